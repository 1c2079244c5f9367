"""The safety rules for activating a home program (clinical-reference.md sections 6 and 7).

Each rule is proved four ways: as a pure table (``safety.py``), through the services
(``activate_program`` and ``save_program``, the one write path), through the API and through
the admin. Every refusal names its reason and leaves nothing half-saved.
"""

from datetime import date, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from apps.patients import services as patient_services
from apps.prescriptions import safety, services
from apps.prescriptions.models import Exercise, Program, ProgramItem, ProgramStatus, ProgramVersion
from apps.prescriptions.safety import ItemFacts, ProgramFacts
from tests.factories import ReferralFactory

TODAY = date(2030, 3, 4)
SURGERY = date(2030, 2, 1)
LOADED = ItemFacts(position=2, exercise="Seated hip flexion with ankle weights", loaded_or_resisted=True)
PLAIN = ItemFacts(position=1, exercise="Seated knee raise", loaded_or_resisted=False)
CAUTIONED = ItemFacts(position=3, exercise="Lunge", loaded_or_resisted=False, caution="Deep hip bend: go gently.")


def facts(**changes) -> ProgramFacts:
    values = {"red_flag_unresolved": False, "referral_cause": "transpsoas_surgery", "surgery_date": SURGERY,
              "start_date": TODAY, "surgeon_clearance": False, "items": [PLAIN]}
    return ProgramFacts(**{**values, **changes})


# ---------------------------------------------------------------------------- pure rules


@pytest.mark.parametrize(
    ("cause", "surgery_date", "start_date", "within"),
    [
        ("transpsoas_surgery", SURGERY, SURGERY, True),
        ("transpsoas_surgery", SURGERY, SURGERY + timedelta(weeks=6, days=-1), True),
        ("transpsoas_surgery", SURGERY, SURGERY + timedelta(weeks=6), False),  # six full weeks have passed
        ("transpsoas_surgery", SURGERY, SURGERY + timedelta(weeks=20), False),
        ("transpsoas_surgery", None, TODAY, True),  # date unknown: cautious
        ("hip_osteoarthritis", SURGERY, SURGERY, False),
        (None, None, TODAY, False),
    ],
)
def test_the_transpsoas_window_is_six_weeks_from_the_surgery_date(cause, surgery_date, start_date, within):
    assert safety.within_surgery_window(
        facts(referral_cause=cause, surgery_date=surgery_date, start_date=start_date)) is within


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({}, {}),
        ({"red_flag_unresolved": True}, {"status": ["red-flag screen is positive"]}),
        ({"items": [PLAIN, LOADED]}, {"items": ["Item 2 (Seated hip flexion with ankle weights) is loaded"]}),
        ({"items": [PLAIN, LOADED], "surgeon_clearance": True}, {}),
        ({"items": [PLAIN, LOADED], "start_date": SURGERY + timedelta(weeks=6)}, {}),
        ({"items": [PLAIN, LOADED], "referral_cause": "hip_osteoarthritis"}, {}),
        ({"items": [PLAIN, LOADED], "surgery_date": None}, {"items": ["surgeon's clearance"]}),
        ({"items": [CAUTIONED]}, {"items": ["Item 3 (Lunge): acknowledge the caution", "Deep hip bend: go gently."]}),
        ({"items": [ItemFacts(3, "Lunge", False, caution="Deep hip bend.", caution_acknowledged=True)]}, {}),
        ({"red_flag_unresolved": True, "items": [LOADED, CAUTIONED]},
         {"status": ["red-flag"], "items": ["Item 2", "Item 3"]}),
    ],
    ids=["safe", "red-flag", "loaded-in-window", "loaded-cleared", "loaded-after-window", "loaded-other-cause",
         "loaded-date-unknown", "caution-unread", "caution-acknowledged", "everything"],
)
def test_activation_problems_name_each_reason_by_field(changes, expected):
    problems = safety.activation_problems(facts(**changes))

    assert set(problems) == set(expected)
    for name, fragments in expected.items():
        text = " ".join(problems[name])
        assert all(fragment in text for fragment in fragments), (fragments, text)
    if "Item 2" in expected.get("items", []) and "Item 3" in expected["items"]:
        assert len(problems["items"]) == 2  # one message per item at fault


# ---------------------------------------------------------------------------- fixtures


def exercise(slug: str) -> Exercise:
    return Exercise.objects.get(slug=slug)


def item(slug: str, **changes) -> ProgramItem:
    ex = exercise(slug)
    values = {"sets": ex.default_sets, "dose_low": ex.default_dose_low, "dose_high": ex.default_dose_high}
    return ProgramItem(exercise=ex, **{**values, **changes})


def draft(patient, therapist, *slugs: str, **fields) -> Program:
    return services.save_program(program=Program(patient=patient, therapist=therapist, **fields),
                                 items=[item(slug) for slug in slugs], by=therapist)


def active(patient, therapist, *slugs: str, **fields) -> Program:
    return services.activate_program(program=draft(patient, therapist, *slugs, **fields), by=therapist)


def add_item(program: Program, slug: str, *, by, **changes) -> Program:
    """The program's items plus one, saved as an edit."""
    return services.save_program(program=program, items=[*services.stored_items(program), item(slug, **changes)],
                                 by=by)


@pytest.fixture
def red_flagged(db):
    return ReferralFactory(cause="prolonged_sitting", red_flags=["weight_loss", "constant_night_pain"]).patient


@pytest.fixture
def after_surgery(db):
    """Lateral transpsoas surgery two weeks ago: inside the six-week window."""
    today = timezone.localdate()
    return ReferralFactory(cause="transpsoas_surgery", surgery_date=today - timedelta(weeks=2),
                           referral_date=today - timedelta(days=3)).patient


@pytest.fixture
def arthritic(db):
    """Hip osteoarthritis: the supine heel slide carries a caution for this cause."""
    return ReferralFactory(cause="hip_osteoarthritis").patient


def state(program: Program) -> tuple:
    """What the database holds for a program: status, items and version count."""
    program = Program.objects.get(pk=program.pk)
    items = list(program.items.order_by("order").values_list("exercise__slug", "sets", "caution_acknowledged"))
    return program.status, program.surgeon_clearance, items, program.versions.count()


# ---------------------------------------------------------------------------- the services


@pytest.mark.django_db
def test_a_new_program_is_always_a_draft_whatever_status_it_carries(red_flagged, therapist):
    program = services.save_program(program=Program(patient=red_flagged, therapist=therapist,
                                                    status=ProgramStatus.ACTIVE),
                                    items=[item("seated-knee-raise")], by=therapist)

    assert state(program)[0] == ProgramStatus.DRAFT


@pytest.mark.django_db
def test_activation_is_refused_for_an_unresolved_red_flag(red_flagged, therapist):
    program = draft(red_flagged, therapist, "seated-knee-raise")

    with pytest.raises(ValidationError) as refused:
        services.activate_program(program=program, by=therapist)

    assert "red-flag" in str(refused.value.message_dict["status"])
    assert state(program)[0] == ProgramStatus.DRAFT


@pytest.mark.django_db
def test_activation_is_allowed_once_a_therapist_records_the_red_flag_decision(red_flagged, therapist):
    program = draft(red_flagged, therapist, "seated-knee-raise")
    referral = red_flagged.referrals.get()
    patient_services.record_red_flag_decision(referral=referral, decision="cleared", note="Reviewed: mechanical pain.",
                                              decided_by=therapist)

    services.activate_program(program=program, by=therapist)

    assert state(program)[0] == ProgramStatus.ACTIVE


@pytest.mark.django_db
def test_activation_refuses_loaded_work_within_six_weeks_of_transpsoas_surgery_without_clearance(
        after_surgery, therapist):
    program = draft(after_surgery, therapist, "seated-knee-raise", "seated-hip-flexion-ankle-weights")
    ProgramItem.objects.filter(program=program).update(caution_acknowledged=True)

    with pytest.raises(ValidationError) as refused:
        services.activate_program(program=program, by=therapist)

    assert "Item 2 (Seated hip flexion with ankle weights)" in str(refused.value.message_dict["items"])
    assert "surgeon" in str(refused.value.message_dict["items"])
    assert state(program)[0] == ProgramStatus.DRAFT


@pytest.mark.django_db
def test_the_surgery_window_is_the_clinics_policy(after_surgery, therapist, clinic_policy):
    clinic_policy(transpsoas_clearance_weeks=1)  # surgery two weeks ago: outside a one-week window
    program = draft(after_surgery, therapist, "seated-hip-flexion-ankle-weights")
    ProgramItem.objects.filter(program=program).update(caution_acknowledged=True)

    services.activate_program(program=program, by=therapist)

    assert state(program)[0] == ProgramStatus.ACTIVE


@pytest.mark.django_db
def test_activation_allows_loaded_work_after_surgery_with_a_recorded_clearance(after_surgery, therapist):
    program = draft(after_surgery, therapist, "seated-hip-flexion-ankle-weights", surgeon_clearance=True,
                    surgeon_clearance_note="Mr Surgeon, letter of 2 March")
    ProgramItem.objects.filter(program=program).update(caution_acknowledged=True)

    services.activate_program(program=program, by=therapist)

    assert state(program)[:2] == (ProgramStatus.ACTIVE, True)


@pytest.mark.django_db
def test_any_load_counts_as_loaded_work_within_the_surgery_window(after_surgery, therapist):
    # A clinic may mark a band exercise as not resisted; a load on the item still counts.
    Exercise.objects.filter(slug="standing-march-mini-band").update(loaded_or_resisted=False, cautions={})
    program = active(after_surgery, therapist, "seated-knee-raise")

    with pytest.raises(ValidationError, match="loaded or resisted"):
        add_item(program, "standing-march-mini-band", load=1, by=therapist)
    add_item(program, "standing-march-mini-band", by=therapist)

    assert state(program)[2] == [("seated-knee-raise", 2, False), ("standing-march-mini-band", 2, False)]


@pytest.mark.django_db
def test_adding_a_loaded_item_to_an_active_program_within_the_window_is_refused(after_surgery, therapist):
    program = active(after_surgery, therapist, "seated-knee-raise")

    with pytest.raises(ValidationError) as refused:
        add_item(program, "resistance-band-hip-flexion", caution_acknowledged=True, by=therapist)

    assert "surgeon" in str(refused.value.message_dict["items"])
    assert state(program)[2] == [("seated-knee-raise", 2, False)]


@pytest.mark.django_db
def test_an_unacknowledged_caution_on_an_active_program_is_refused_and_shown(arthritic, therapist):
    program = active(arthritic, therapist, "seated-knee-raise")
    caution = exercise("supine-heel-slide").caution_for("hip_osteoarthritis")

    with pytest.raises(ValidationError) as refused:
        add_item(program, "supine-heel-slide", by=therapist)

    assert caution and caution in str(refused.value.message_dict["items"])
    assert len(state(program)[2]) == 1

    add_item(program, "supine-heel-slide", caution_acknowledged=True, by=therapist)
    assert len(state(program)[2]) == 2


@pytest.mark.django_db
def test_activating_a_draft_with_an_unacknowledged_caution_is_refused(arthritic, therapist):
    program = draft(arthritic, therapist, "supine-heel-slide")

    with pytest.raises(ValidationError, match="acknowledge the caution"):
        services.activate_program(program=program, by=therapist)

    assert state(program)[0] == ProgramStatus.DRAFT


@pytest.mark.django_db
def test_a_program_for_an_archived_patient_is_refused(arthritic, therapist):
    patient_services.archive_patient(patient=arthritic, archived_by=therapist)

    with pytest.raises(ValidationError, match="archived"):
        draft(arthritic, therapist, "seated-knee-raise")
    assert not Program.objects.exists()


@pytest.mark.django_db
def test_a_draft_cannot_be_paused_and_a_stopped_program_cannot_be_activated(arthritic, therapist):
    program = draft(arthritic, therapist, "seated-knee-raise")
    with pytest.raises(ValidationError, match="Only an active program can be paused"):
        services.pause_program(program=program, by=therapist)

    services.activate_program(program=program, by=therapist)
    services.pause_program(program=program, by=therapist)
    services.stop_program(program=program, by=therapist)

    with pytest.raises(ValidationError, match="A stopped program cannot be activated"):
        services.activate_program(program=program, by=therapist)
    history = [(row.status, row.history_change_reason) for row in Program.history.filter(id=program.pk)
               .order_by("history_date", "history_id")]
    assert history[-3:] == [("active", "activated"), ("paused", "paused"), ("stopped", "stopped")]


@pytest.mark.django_db
def test_activating_a_program_completes_the_patients_other_active_one(arthritic, therapist):
    first = active(arthritic, therapist, "seated-knee-raise")
    second = active(arthritic, therapist, "standing-march")

    assert (state(first)[0], state(second)[0]) == (ProgramStatus.COMPLETED, ProgramStatus.ACTIVE)
    assert Program.history.filter(id=first.pk).latest().history_change_reason == (
        "completed: another program was activated")


# ---------------------------------------------------------------------------- the API


def create_through_api(api_client, user, patient, items, **fields):
    api_client.force_authenticate(user)
    return api_client.post("/api/v1/programs/", {"patient": patient.pk, "items": items, **fields}, format="json")


def row(slug: str, **changes) -> dict:
    ex = exercise(slug)
    return {"exercise": slug, "sets": ex.default_sets, "dose_low": ex.default_dose_low,
            "dose_high": ex.default_dose_high, **changes}


@pytest.mark.django_db
def test_api_activation_is_refused_for_an_unresolved_red_flag_naming_the_reason(api_client, therapist, red_flagged):
    created = create_through_api(api_client, therapist, red_flagged, [row("seated-knee-raise")])
    assert created.status_code == 201, created.json()  # a draft may be written; it may not go active
    program = Program.objects.get(pk=created.json()["id"])

    response = api_client.post(f"/api/v1/programs/{program.pk}/activate/")

    assert response.status_code == 400
    assert "red-flag screen is positive" in str(response.json()["status"])
    assert state(program) == (ProgramStatus.DRAFT, False, [("seated-knee-raise", 2, False)], 0)


@pytest.mark.django_db
def test_api_activation_after_surgery_needs_the_surgeon_clearance(api_client, therapist, after_surgery):
    created = create_through_api(api_client, therapist, after_surgery,
                                 [row("seated-knee-raise"), row("banded-diagonal-steps", caution_acknowledged=True)])
    url = f"/api/v1/programs/{created.json()['id']}/"

    refused = api_client.post(url + "activate/")
    no_note = api_client.patch(url, {"surgeon_clearance": True}, format="json")
    api_client.patch(url, {"surgeon_clearance": True, "surgeon_clearance_note": "Dr Spine, phone, 3 March"},
                     format="json")
    activated = api_client.post(url + "activate/")

    assert refused.status_code == 400
    assert "Item 2 (Banded diagonal steps) is loaded or resisted" in str(refused.json()["items"])
    assert no_note.status_code == 400 and "surgeon_clearance_note" in no_note.json()
    assert activated.status_code == 200, activated.json()
    assert activated.json()["status"] == "active" and activated.json()["current_version"] == 1


@pytest.mark.django_db
def test_api_activation_needs_every_caution_acknowledged_and_shows_the_caution(api_client, therapist, arthritic):
    created = create_through_api(api_client, therapist, arthritic, [row("lunge")])
    url = f"/api/v1/programs/{created.json()['id']}/"
    caution = exercise("lunge").caution_for("hip_osteoarthritis")

    refused = api_client.post(url + "activate/")
    api_client.patch(url, {"items": [row("lunge", caution_acknowledged=True)]}, format="json")
    activated = api_client.post(url + "activate/")

    assert created.json()["items"][0]["caution"] == caution
    assert refused.status_code == 400 and caution in str(refused.json()["items"])
    assert activated.status_code == 200 and activated.json()["status"] == "active"


@pytest.mark.django_db
def test_api_edit_of_an_active_program_that_breaks_a_rule_is_refused_whole(api_client, therapist, after_surgery):
    created = create_through_api(api_client, therapist, after_surgery, [row("seated-knee-raise")])
    url = f"/api/v1/programs/{created.json()['id']}/"
    assert api_client.post(url + "activate/").status_code == 200
    program = Program.objects.get(pk=created.json()["id"])
    before = state(program)

    response = api_client.patch(url, {"items": [row("seated-knee-raise", sets=3),
                                                 row("resistance-band-hip-flexion", caution_acknowledged=True)]},
                                format="json")

    assert response.status_code == 400
    assert "Item 2 (Resistance-band hip flexion)" in str(response.json()["items"])
    assert state(program) == before  # the first item's new sets were not written either
    assert ProgramVersion.objects.filter(program=program).count() == 1


# ---------------------------------------------------------------------------- the admin

ADD_URL = "/admin/prescriptions/program/add/"


def admin_data(patient, therapist, items, program=None, activate=True, **fields) -> dict:
    """The admin's POST: the program fields, the items inline and the versions inline, and by
    default the "Save and activate" button (the status itself is not a field of the form)."""
    data = {
        "patient": patient.pk, "therapist": therapist.pk, "source_assessment": "",
        "start_date": timezone.localdate().isoformat(), "weeks": 6, "sessions_per_week": 3, "goals": "",
        "surgeon_clearance_note": "",
        "items-TOTAL_FORMS": len(items), "items-INITIAL_FORMS": 0, "items-MIN_NUM_FORMS": 0,
        "items-MAX_NUM_FORMS": 1000,
        "versions-TOTAL_FORMS": 0, "versions-INITIAL_FORMS": 0, "versions-MIN_NUM_FORMS": 0,
        "versions-MAX_NUM_FORMS": 0,
        **fields,
    }
    if program is not None:
        versions = list(program.versions.all())
        data.update({"items-INITIAL_FORMS": program.items.count(), "versions-TOTAL_FORMS": len(versions),
                     "versions-INITIAL_FORMS": len(versions)})
        for n, version in enumerate(versions):
            data.update({f"versions-{n}-id": version.pk, f"versions-{n}-program": program.pk})
    for n, item in enumerate(items):
        values = {"order": n + 1, "side": "both", "notes": "", "load": "", "id": "",
                  "program": program.pk if program else "", **item}
        values["exercise"] = exercise(values["exercise"]).pk
        if not values.pop("caution_acknowledged", False):
            values.pop("caution_acknowledged", None)
        else:
            values["caution_acknowledged"] = "on"
        data.update({f"items-{n}-{name}": value for name, value in values.items()})
    if fields.get("surgeon_clearance"):
        data["surgeon_clearance"] = "on"
    else:
        data.pop("surgeon_clearance", None)
    if activate and program is None:
        data["_activate"] = "Save and activate"
    return data


def admin_errors(response) -> str:
    assert response.status_code == 200, response.status_code  # the form again, not a redirect
    assert "Please correct the error" in response.content.decode()
    messages = [str(response.context["adminform"].form.errors)]
    for inline in response.context["inline_admin_formsets"]:
        messages += [str(inline.formset.non_form_errors()), str(inline.formset.errors)]
    return " ".join(messages)


@pytest.fixture
def admin_client(client, therapist):
    client.force_login(therapist)
    return client


@pytest.mark.django_db
def test_admin_refuses_an_active_program_for_an_unresolved_red_flag(admin_client, therapist, red_flagged):
    response = admin_client.post(ADD_URL, admin_data(red_flagged, therapist, [row("seated-knee-raise")]))

    assert "red-flag screen is positive" in admin_errors(response)
    assert "red-flag screen is positive" in response.content.decode()
    assert not Program.objects.exists() and not ProgramItem.objects.exists()


@pytest.mark.django_db
def test_admin_saves_a_draft_for_a_red_flagged_patient(admin_client, therapist, red_flagged):
    response = admin_client.post(ADD_URL, admin_data(red_flagged, therapist, [row("seated-knee-raise")],
                                                     activate=False))

    assert response.status_code == 302
    assert state(Program.objects.get()) == (ProgramStatus.DRAFT, False, [("seated-knee-raise", 2, False)], 0)


@pytest.mark.django_db
def test_admin_refuses_loaded_work_after_surgery_without_clearance_then_accepts_it_with(
        admin_client, therapist, after_surgery):
    items = [row("seated-knee-raise"), row("seated-hip-flexion-ankle-weights", load="1.5", caution_acknowledged=True)]

    refused = admin_client.post(ADD_URL, admin_data(after_surgery, therapist, items))
    assert "Item 2 (Seated hip flexion with ankle weights) is loaded or resisted" in admin_errors(refused)
    assert not Program.objects.exists() and not ProgramItem.objects.exists()

    accepted = admin_client.post(ADD_URL, admin_data(after_surgery, therapist, items, surgeon_clearance=True,
                                                     surgeon_clearance_note="Dr Spine, letter of 1 March"))
    assert accepted.status_code == 302
    program = Program.objects.get()
    assert state(program)[:3] == (ProgramStatus.ACTIVE, True, [("seated-knee-raise", 2, False),
                                                              ("seated-hip-flexion-ankle-weights", 2, True)])
    assert program.versions.get().created_by == therapist


@pytest.mark.django_db
def test_admin_refuses_an_unacknowledged_caution_showing_it(admin_client, therapist, arthritic):
    caution = exercise("supine-heel-slide").caution_for("hip_osteoarthritis")

    refused = admin_client.post(ADD_URL, admin_data(arthritic, therapist, [row("supine-heel-slide")]))
    assert caution in admin_errors(refused)
    assert not Program.objects.exists()

    accepted = admin_client.post(ADD_URL, admin_data(arthritic, therapist,
                                                     [row("supine-heel-slide", caution_acknowledged=True)]))
    assert accepted.status_code == 302 and state(Program.objects.get())[0] == ProgramStatus.ACTIVE


@pytest.mark.django_db
def test_admin_edit_of_an_active_program_that_breaks_a_rule_changes_nothing(admin_client, therapist, after_surgery):
    ok = admin_client.post(ADD_URL, admin_data(after_surgery, therapist, [row("seated-knee-raise")]))
    assert ok.status_code == 302
    program = Program.objects.get()
    existing = program.items.get()
    before = state(program)
    items = [row("seated-knee-raise", id=existing.pk, sets=3),
             row("resistance-band-hip-flexion", caution_acknowledged=True)]

    response = admin_client.post(f"/admin/prescriptions/program/{program.pk}/change/",
                                 admin_data(after_surgery, therapist, items, program=program))

    assert "Item 2 (Resistance-band hip flexion) is loaded or resisted" in admin_errors(response)
    assert state(program) == before


@pytest.mark.django_db
def test_admin_refuses_a_program_for_an_archived_patient(admin_client, therapist, arthritic):
    patient_services.archive_patient(patient=arthritic, archived_by=therapist)

    response = admin_client.post(ADD_URL, admin_data(arthritic, therapist, [row("seated-knee-raise")],
                                                     activate=False))

    assert "archived" in admin_errors(response)
    assert not Program.objects.exists()


@pytest.mark.django_db
def test_admin_edit_of_an_active_program_makes_a_new_version_and_shows_the_old(admin_client, therapist, arthritic):
    assert admin_client.post(ADD_URL, admin_data(arthritic, therapist, [row("seated-knee-raise")])).status_code == 302
    program = Program.objects.get()
    existing = program.items.get()
    change_url = f"/admin/prescriptions/program/{program.pk}/change/"

    response = admin_client.post(change_url, admin_data(arthritic, therapist,
                                                        [row("seated-knee-raise", id=existing.pk, sets=3)],
                                                        program=program))
    page = admin_client.get(change_url).content.decode()

    assert response.status_code == 302
    first, second = program.versions.order_by("number")
    assert first.items[0]["sets"] == 2 and second.items[0]["sets"] == 3
    assert second.created_by == therapist and second.created_at >= first.created_at
    assert "First version." in page and "-&gt; 3 sets of 10-15 repetitions on each side." in page
