"""Fixtures for the desk pages: a frozen Monday morning, a therapist, a patient, helpers to read pages."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime

import pytest
import time_machine

from tests.factories import PatientFactory, TherapistFactory, UserFactory

# Monday 23 November 2026, 08:00 UTC; the clinic's zone is pinned to UTC unless a test changes it.
NOW = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


@pytest.fixture
def monday_morning(clinic_in_utc):
    # The desk tests write rotas, days and times in UTC: both the clock and the zone are pinned.
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def desk(client, frontdesk):
    client.force_login(frontdesk)
    return client


@pytest.fixture
def roleless(db):
    return UserFactory(username="nobody")


@pytest.fixture
def physio(db):
    """A bookable therapist (Mon-Fri 09:00-17:00), named so pages can be read."""
    return TherapistFactory(display_name="Ann Physio")


@pytest.fixture
def patient(db):
    return PatientFactory(first_name="Pat", last_name="Example", email="pat@example.org")


def text(response) -> str:
    """The page as text with tags removed, spaces collapsed and en dashes read as hyphens."""
    content = response.content.decode()
    content = re.sub(r"<(script|style)\b.*?</\1>", " ", content, flags=re.S)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", content)).replace("\u2013", "-").split())


def field_error(response, field: str) -> str:
    """The error crispy shows under the field named ``field`` (element id ``id_<field>`` or ``search_<field>``)."""
    content = response.content.decode()
    pattern = rf'<[^>]+id="error_\d+_(?:id|search)_{field}"[^>]*>(.*?)</(?:span|div|p)>'
    found = re.findall(pattern, content, flags=re.S)
    assert found, f"no error shown next to {field!r}"
    return " ".join(" ".join(html.unescape(re.sub(r"<[^>]+>", " ", part)).split()) for part in found)


def form_error(response) -> str:
    """The errors shown above a form (not tied to one field)."""
    content = response.content.decode()
    found = re.findall(r'<div class="alert alert-block alert-danger">(.*?)</div>', content, flags=re.S)
    assert found, "no form error shown"
    return " ".join(" ".join(html.unescape(re.sub(r"<[^>]+>", " ", part)).split()) for part in found)
