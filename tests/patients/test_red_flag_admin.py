"""The red-flag screen in the admin: grouped, labelled checkboxes, the decision beside them, per role."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from apps.patients import services
from apps.patients.models import RED_FLAG_GROUPS, RedFlag, Referral
from tests.factories import PatientFactory, ReferralFactory

pytestmark = pytest.mark.django_db


class Screen(HTMLParser):
    """The checkboxes of a page: group legend, name, value, checked and the text of their label."""

    def __init__(self):
        super().__init__()
        self.boxes: list[dict] = []
        self.labels: dict[str, str] = {}
        self._legend: str | None = None
        self._in_legend = False
        self._label_for: str | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "legend":
            self._in_legend, self._legend = True, ""
        elif tag == "label" and attrs.get("for"):
            self._label_for = attrs["for"]
            self.labels[self._label_for] = ""
        elif tag == "input" and attrs.get("type") == "checkbox" and attrs.get("name", "").endswith("red_flags") \
                and "__prefix__" not in attrs["name"]:  # not the template of the "add another" form
            self.boxes.append({"group": self._legend, "name": attrs["name"], "value": attrs["value"],
                               "id": attrs.get("id"), "checked": "checked" in attrs})

    def handle_endtag(self, tag):
        if tag == "legend":
            self._in_legend = False
        elif tag == "label":
            self._label_for = None
        elif tag == "fieldset":
            self._legend = None

    def handle_data(self, data):
        if self._in_legend:
            self._legend += data.strip()
        elif self._label_for:
            self.labels[self._label_for] += data.strip()


def screen_of(response) -> Screen:
    assert response.status_code == 200
    screen = Screen()
    screen.feed(response.content.decode())
    return screen


def change_url(referral: Referral) -> str:
    return f"/admin/patients/referral/{referral.pk}/change/"


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def referral_post(referral: Referral, **changes) -> dict:
    """The referral page's form as a browser would send it (``red_flags`` a list of ticked items)."""
    data = {
        "patient": referral.patient_id, "cause": referral.cause, "cause_other": referral.cause_other,
        "referring_clinician": referral.referring_clinician, "referral_date": referral.referral_date.isoformat(),
        "surgery_date": "", "reason": referral.reason, "red_flags": referral.red_flags,
        "decision": referral.red_flag_decision, "decision_note": referral.red_flag_decision_note, "_save": "Save",
    }
    return {**data, **changes}


def test_every_red_flag_is_in_exactly_one_group_low_back_then_hip():
    grouped = [flag for _, flags in RED_FLAG_GROUPS for flag in flags]

    assert [name for name, _ in RED_FLAG_GROUPS] == ["Low back", "Hip"]
    assert sorted(grouped) == sorted(RedFlag.values) and len(grouped) == len(set(grouped))


def test_a_therapist_sees_every_item_as_a_labelled_checkbox_in_its_group(therapist):
    referral = ReferralFactory(red_flags=["weight_loss", "cannot_bear_weight"])

    for url, name in [(change_url(referral), "red_flags"),
                      (f"/admin/patients/patient/{referral.patient_id}/change/", "referrals-0-red_flags")]:
        screen = screen_of(signed_in(therapist).get(url))

        expected = [(group, flag.value, flag.label) for group, flags in RED_FLAG_GROUPS for flag in flags]
        assert [(box["group"], box["value"], screen.labels[box["id"]]) for box in screen.boxes] == expected
        assert {box["name"] for box in screen.boxes} == {name}
        assert [box["value"] for box in screen.boxes if box["checked"]] == ["weight_loss", "cannot_bear_weight"]


def test_the_front_desk_never_sees_the_screen_and_cannot_post_it(frontdesk):
    referral = ReferralFactory(red_flags=["trauma"], reason="Fell from a ladder")
    client = signed_in(frontdesk)

    for url in [change_url(referral), f"/admin/patients/patient/{referral.patient_id}/change/"]:
        page = client.get(url)
        assert screen_of(page).boxes == []
        text = page.content.decode()
        assert "Low back" not in text and RedFlag.TRAUMA.label not in text and "Fell from a ladder" not in text

    response = client.post(change_url(referral), {**referral_post(referral), "red_flags": ["bladder"]})

    assert response.status_code == 302
    referral.refresh_from_db()
    assert referral.red_flags == ["trauma"]


def test_a_therapist_saves_ticked_items_in_screen_order_and_the_alert_shows(therapist):
    referral = ReferralFactory()
    client = signed_in(therapist)

    response = client.post(change_url(referral), referral_post(referral, red_flags=["hot_swollen_joint", "bowel"]))

    assert response.status_code == 302
    referral.refresh_from_db()
    assert referral.red_flags == ["bowel", "hot_swollen_joint"]
    assert referral.history.first().history_user == therapist
    assert "Red flag: awaiting a therapist" in client.get(change_url(referral)).content.decode()

    client.post(change_url(referral), referral_post(referral, red_flags=[]))
    referral.refresh_from_db()
    assert referral.red_flags == [] and not referral.red_flag_positive


@pytest.mark.parametrize("posted", [["weight_loss", "made_up"], ["made_up", "<b>x</b>"]])
def test_an_item_not_on_the_screen_is_refused_with_its_name(therapist, posted):
    referral = ReferralFactory(red_flags=["trauma"])

    response = signed_in(therapist).post(change_url(referral), referral_post(referral, red_flags=posted))

    assert response.status_code == 200
    errors = " ".join(response.context["adminform"].form.errors["red_flags"])
    for item in posted:
        if item not in RedFlag.values:
            assert f"“{item}”" in errors
    assert "<b>x</b>" not in response.content.decode()  # named, but escaped
    referral.refresh_from_db()
    assert referral.red_flags == ["trauma"]


def test_an_item_since_removed_from_the_screen_is_shown_and_refused_until_unticked(therapist):
    referral = ReferralFactory()
    Referral.objects.filter(pk=referral.pk).update(red_flags=["trauma", "retired_item"])
    referral.refresh_from_db()
    client = signed_in(therapist)

    screen = screen_of(client.get(change_url(referral)))
    assert {"group": "No longer on the screen", "value": "retired_item", "checked": True}.items() <= next(
        box for box in screen.boxes if box["value"] == "retired_item").items()

    kept = client.post(change_url(referral), referral_post(referral))
    assert kept.status_code == 200 and "“retired_item”" in " ".join(kept.context["adminform"].form.errors["red_flags"])

    assert client.post(change_url(referral), referral_post(referral, red_flags=["trauma"])).status_code == 302
    referral.refresh_from_db()
    assert referral.red_flags == ["trauma"]


def test_the_decision_shows_beside_the_screen_and_only_a_therapist_may_change_it(therapist, manager):
    referral = ReferralFactory(red_flags=["constant_night_pain"])
    services.record_red_flag_decision(referral=referral, decision="cleared", note="GP reviewed the X-ray",
                                      decided_by=therapist)

    for user, may_decide in [(therapist, True), (manager, False)]:
        page = signed_in(user).get(change_url(referral)).content.decode()
        status = page[page.index('data-testid="red-flag-status"'):][:400]
        assert "Reviewed; safe to treat here" in status and "GP reviewed the X-ray" in status
        assert f"Decided by {therapist}" in status
        assert ('name="decision"' in page) is may_decide

    response = signed_in(manager).post(change_url(referral), referral_post(referral, decision="referred_on",
                                                                            decision_note="Manager's view"))
    assert response.status_code == 302
    referral.refresh_from_db()
    assert referral.red_flag_decision == "cleared" and referral.red_flag_decided_by == therapist


def test_a_therapist_records_the_decision_through_the_service(therapist):
    referral = ReferralFactory(red_flags=["fever_infection"])
    client = signed_in(therapist)

    no_note = client.post(change_url(referral), referral_post(referral, decision="referred_on"))
    assert no_note.status_code == 200
    assert no_note.context["adminform"].form.errors["decision_note"] == ["Say what the decision rests on."]

    saved = client.post(change_url(referral), referral_post(referral, decision="referred_on",
                                                            decision_note="Sent to A&E"))
    assert saved.status_code == 302
    referral.refresh_from_db()
    assert (referral.red_flag_decision, referral.red_flag_decided_by) == ("referred_on", therapist)
    assert referral.red_flag_decided_at is not None and referral.history.first().history_user == therapist


def test_a_decided_screen_cannot_be_emptied_and_says_why(therapist, manager):
    referral = ReferralFactory(red_flags=["trauma"])
    services.record_red_flag_decision(referral=referral, decision="cleared", note="Old fracture", decided_by=therapist)

    for user in [therapist, manager]:
        response = signed_in(user).post(change_url(referral), referral_post(referral, red_flags=[]))
        assert response.status_code == 200
        assert "A decision is only needed when the screen found a red flag." in response.content.decode()
    referral.refresh_from_db()
    assert referral.red_flags == ["trauma"]


def test_an_archived_patients_referral_is_refused_with_a_message(therapist):
    referral = ReferralFactory()
    services.archive_patient(patient=referral.patient, archived_by=therapist)

    response = signed_in(therapist).post(change_url(referral), referral_post(referral, red_flags=["bowel"]))

    assert response.status_code == 200
    assert "This patient is archived" in response.content.decode()
    referral.refresh_from_db()
    assert referral.red_flags == []


class FormData(HTMLParser):
    """The fields of a page's POST form as a browser would send them unchanged."""

    def __init__(self):
        super().__init__()
        self.data: dict[str, list[str]] = {}
        self._select: str | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        name = attrs.get("name")
        if tag == "input" and name and attrs.get("type") not in {"submit", "button"}:
            if attrs.get("type") in {"checkbox", "radio"} and "checked" not in attrs:
                return
            self.data.setdefault(name, []).append(attrs.get("value") or ("on" if attrs.get("type") == "checkbox"
                                                                           else ""))
        elif tag == "select" and name:
            self._select = name
            self.data.setdefault(name, [])
        elif tag == "option" and self._select and "selected" in attrs:
            self.data[self._select].append(attrs.get("value", ""))
        elif tag == "textarea" and name:
            self._textarea = name
            self.data[name] = [""]

    def handle_endtag(self, tag):
        if tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None

    def handle_data(self, data):
        if self._textarea:
            self.data[self._textarea][0] += data.lstrip("\n") if not self.data[self._textarea][0] else data


def page_form(response) -> dict[str, list[str]]:
    parser = FormData()
    parser.feed(response.content.decode())
    return {name: values for name, values in parser.data.items() if "__prefix__" not in name}


def test_the_patient_page_writes_its_referrals_through_the_services(therapist):
    referral = ReferralFactory()
    patient_url = f"/admin/patients/patient/{referral.patient_id}/change/"
    client = signed_in(therapist)
    data = page_form(client.get(patient_url))
    data |= {"referrals-0-red_flags": ["cannot_bear_weight", "saddle_anaesthesia"], "referrals-TOTAL_FORMS": ["2"],
             "referrals-1-cause": ["prolonged_sitting"], "referrals-1-referral_date": ["2026-01-05"],
             "referrals-1-red_flags": ["bladder"], "_continue": ["Save and continue editing"]}

    response = client.post(patient_url, data)

    assert response.status_code == 302, response.context["inline_admin_formsets"][0].formset.errors
    referral.refresh_from_db()
    assert referral.red_flags == ["saddle_anaesthesia", "cannot_bear_weight"]
    added = referral.patient.referrals.exclude(pk=referral.pk).get()
    assert added.red_flags == ["bladder"]
    assert {r.history.first().history_user for r in (referral, added)} == {therapist}

    data = page_form(client.get(patient_url)) | {"referrals-0-red_flags": ["bogus"]}
    refused = client.post(patient_url, data)
    assert refused.status_code == 200 and "“bogus”" in refused.content.decode()


def test_update_referral_refuses_an_archived_patient_and_records_who_changed_it(therapist):
    referral = ReferralFactory()
    referral.reason = "Sits 10 hours a day"
    services.update_referral(referral=referral, changed_by=therapist)
    assert referral.history.first().history_user == therapist

    services.archive_patient(patient=referral.patient, archived_by=therapist)
    referral.refresh_from_db()
    with pytest.raises(ValidationError) as refused:
        services.update_referral(referral=referral, changed_by=therapist)
    assert "archived" in refused.value.message_dict["patient"][0]


def test_the_patient_page_names_every_decider_in_the_same_number_of_queries(therapist):
    def page_queries(count: int) -> int:
        patient = PatientFactory()
        for _ in range(count):
            referral = ReferralFactory(patient=patient, red_flags=["trauma"])
            services.record_red_flag_decision(referral=referral, decision="cleared", note="Seen", decided_by=therapist)
        client = signed_in(therapist)
        with CaptureQueriesContext(connection) as captured:
            assert client.get(f"/admin/patients/patient/{patient.pk}/change/").status_code == 200
        return len(captured)

    assert page_queries(1) == page_queries(4)


def test_a_revert_from_history_saves_the_earlier_screen_through_the_service(therapist):
    referral = ReferralFactory()
    first = referral.history.earliest()
    referral.red_flags = ["bowel"]
    services.update_referral(referral=referral, changed_by=therapist)
    url = f"/admin/patients/referral/{referral.pk}/history/{first.history_id}/"

    response = signed_in(therapist).post(url, referral_post(first.instance, red_flags=[]))

    assert response.status_code == 302
    referral.refresh_from_db()
    assert referral.red_flags == [] and referral.history.first().history_user == therapist


def test_an_archived_patients_page_is_read_only_until_the_record_is_restored(therapist):
    referral = ReferralFactory()
    services.archive_patient(patient=referral.patient, archived_by=therapist)
    patient_url = f"/admin/patients/patient/{referral.patient_id}/change/"
    client = signed_in(therapist)
    page = client.get(patient_url)
    data = page_form(services_restored_page(client, patient_url, referral.patient, therapist))
    services.archive_patient(patient=referral.patient, archived_by=therapist)

    assert page.status_code == 200 and 'name="_save"' not in page.content.decode()
    assert client.post(patient_url, data | {"referrals-0-red_flags": ["bowel"]}).status_code == 403
    referral.refresh_from_db()
    assert referral.red_flags == []


def services_restored_page(client, url, patient, user):
    """The page's form as it reads while the record is open (an archived one has no form to post)."""
    services.restore_patient(patient=patient, restored_by=user)
    return client.get(url)
