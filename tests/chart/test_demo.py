"""`make run`'s demo clinic shows a working day, whatever day and hour it is started."""

from datetime import datetime
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.management import call_command

from apps.accounts.models import User
from apps.assessments.models import Assessment
from apps.notifications.models import OutboxEmail
from apps.ops.policy import clinic_policy
from apps.scheduling.models import Appointment, AppointmentStatus
from hipclinic.zones import clinic_today

pytestmark = pytest.mark.django_db

LONDON = ZoneInfo("Europe/London")


@pytest.fixture(autouse=True)
def london(settings):
    settings.DEBUG = True
    settings.CLINIC_TIME_ZONE = "Europe/London"
    settings.TIME_ZONE = "Europe/London"


def seed_at(moment: datetime) -> None:
    with time_machine.travel(moment, tick=False):
        call_command("seed_demo", password="demo-password-1", stdout=StringIO())


def todays(moment: datetime) -> list[Appointment]:
    with time_machine.travel(moment, tick=False):
        today = clinic_today()
    return [a for a in Appointment.objects.select_related("patient").order_by("start")
            if a.start.astimezone(LONDON).date() == today]


@pytest.mark.parametrize("moment", [
    datetime(2026, 12, 2, 12, 20, tzinfo=LONDON),  # a Wednesday, mid-day
    datetime(2026, 12, 6, 12, 20, tzinfo=LONDON),  # a Sunday: only Tara works
], ids=["weekday", "sunday"])
def test_the_demo_day_has_finished_current_and_coming_appointments(client, moment):
    seed_at(moment)

    day = todays(moment)
    statuses = [a.status for a in day]
    # 09:00 and 10:00 are over, the 11:30 assessment is under way, the afternoon is to come.
    assert statuses == [AppointmentStatus.COMPLETED] * 2 + [AppointmentStatus.CHECKED_IN] + [
        AppointmentStatus.BOOKED] * 3
    first = day[0]
    assert first.kind.slug == "initial_assessment" and Assessment.objects.get(appointment=first).classification
    # Today's list is the demo's own: nobody is e-mailed about it.
    assert not OutboxEmail.objects.filter(key__in=[f"booking-confirmation:{a.pk}:{a.start.isoformat()}"
                                                   for a in day]).exists()

    with time_machine.travel(moment, tick=False):
        client.force_login(User.objects.get(username="frontdesk"))
        page = client.get("/desk/").content.decode()
    for appointment in day:
        assert appointment.patient.full_name in page


def test_a_patient_about_to_come_in_is_checked_in():
    moment = datetime(2026, 12, 2, 13, 45, tzinfo=LONDON)  # the 14:00 re-assessment is in the waiting room

    seed_at(moment)

    assert [a.status for a in todays(moment)][3] == AppointmentStatus.CHECKED_IN


def test_seeding_again_adds_nothing_and_the_next_day_gets_its_own_list():
    monday, tuesday = datetime(2026, 12, 7, 8, 0, tzinfo=LONDON), datetime(2026, 12, 8, 8, 0, tzinfo=LONDON)

    seed_at(monday)
    seed_at(monday)
    count = Appointment.objects.count()
    seed_at(tuesday)

    names = {"Rafael", "Olive", "Hana", "Gwen", "Cai", "Sam"}
    assert {a.patient.first_name for a in todays(monday)} >= names
    assert {a.patient.first_name for a in todays(tuesday)} >= names  # Olive's weekly follow-up is hers that day
    assert Appointment.objects.count() == count + 5


def test_the_demo_clinic_has_a_name_that_ends_its_emails():
    seed_at(datetime(2026, 12, 2, 9, 0, tzinfo=LONDON))

    assert clinic_policy().clinic_name == "Riverside Hip Clinic"
