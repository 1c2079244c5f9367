"""A double click on "Create my feed address": requests at once leave exactly one open feed."""

import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from apps.calendars import services
from apps.calendars.models import CalendarFeed
from tests.factories import UserFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

THREADS = 8
ROUNDS = 10


def issue_at_once(user) -> list[str]:
    """THREADS issues released together by a barrier; each one's outcome."""
    barrier, lock, outcomes = threading.Barrier(THREADS), threading.Lock(), []

    def issue():
        try:
            barrier.wait(timeout=30)
            services.issue_feed(user=user, by=user)
            outcome = "issued"
        except ValidationError:
            outcome = "refused"
        except BaseException as error:  # any other failure is the test's finding
            outcome = repr(error)
        finally:
            connection.close()
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=issue) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return outcomes


def test_simultaneous_issues_leave_one_open_feed_and_no_server_error():
    user = UserFactory(role="therapist")
    for _round in range(ROUNDS):
        outcomes = issue_at_once(user)

        assert len(outcomes) == THREADS and set(outcomes) <= {"issued", "refused"} and "issued" in outcomes, outcomes
        assert CalendarFeed.objects.open().filter(user=user).count() == 1
