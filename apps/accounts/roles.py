"""The four staff roles and the permissions each holds.

A role is a Django group. ``ROLE_PERMISSIONS`` is the single source of truth: the
groups are created by a data migration and their permissions are brought in line with
this table after every ``migrate`` (permissions of models added by later migrations
only exist once those have run). Later issues add their models' permissions here.
"""

from django.db import models


class Role(models.TextChoices):
    FRONT_DESK = "front_desk", "Front desk"
    THERAPIST = "therapist", "Therapist"
    ASSISTANT = "assistant", "Assistant"  # a physical-therapist assistant or a student
    CLINIC_MANAGER = "clinic_manager", "Clinic manager"


# Group names are the roles' labels, as staff see them in the admin.
GROUP_NAMES = {role: role.label for role in Role}
ROLE_BY_GROUP_NAME = {name: role for role, name in GROUP_NAMES.items()}


def _crud(model: str, *actions: str) -> list[str]:
    app_label, model_name = model.split(".")
    return [f"{app_label}.{action}_{model_name}" for action in actions]


# Nobody but a superuser deletes: patients are archived, appointments cancelled, and
# history rows point at users.
_DESK = [
    *_crud("patients.patient", "view", "add", "change"),
    *_crud("patients.referral", "view", "add", "change"),
    *_crud("scheduling.appointment", "view", "add", "change"),
    *_crud("scheduling.recurringseries", "view", "add"),
    *_crud("scheduling.waitlistentry", "view", "add", "change"),
    *_crud("scheduling.therapist", "view"),
    *_crud("scheduling.appointmentkind", "view"),
    *_crud("scheduling.workinghours", "view"),
    *_crud("scheduling.timeoff", "view"),
    # Follow-ups to book are administrative: the week and the due date, no clinical content.
    *_crud("followups.followup", "view", "change"),
]

# Clinical records: therapists write them, managers read them, the front desk never sees them.
_CLINICAL_MODELS = ["assessments.assessment", "assessments.sidefindings", "assessments.outcomemeasure",
                    "assessments.intakeinvitation", "prescriptions.exercise", "prescriptions.program",
                    "prescriptions.programitem", "prescriptions.patientlink", "followups.sessionlog",
                    "followups.sessionlogitem", "followups.progressionproposal"]
_CLINICAL_HISTORY = ["assessments.historicalassessment", "assessments.historicalsidefindings",
                     "assessments.historicaloutcomemeasure", "prescriptions.historicalexercise",
                     "prescriptions.historicalprogram", "prescriptions.programversion"]

# Plans of care and visit notes (issue 12). Therapists write both; assistants write daily
# notes (the services refuse other kinds) and read the plans; managers read. The front desk
# records the referring clinician's certification date from the signed paper but sees no
# clinical content: it has no view permission on any of these (the desk shows the clock's
# booking hint only).
_VISIT_MODELS = ["visits.planofcare", "visits.plandiagnosis", "visits.plangoal", "visits.certification",
                 "visits.visitnote", "visits.addendum"]
_VISIT_HISTORY = ["visits.historicalplanofcare", "visits.historicalplandiagnosis", "visits.historicalplangoal",
                  "visits.historicalcertification", "visits.historicalvisitnote"]

# Billing (issue 13). The front desk sees amounts, codes, invoices and payments (never a note's
# content or the plan's diagnoses: a charge names its note by id only), makes invoices and records
# payments on the desk's billing page, and records who pays for an episode. Therapists read the
# charges of their own notes (the admin and the API narrow the list to them), the payers and the
# code table. Managers keep the code table, payers and fee schedules and read everything, with
# history. Assistants see nothing of billing. Nobody deletes: codes and payers are retired,
# charges voided; a new price is a new dated entry, never an edit.
_BILLING_HISTORY = ["billing.historicalbillingcode", "billing.historicalpayer",
                    "billing.historicalfeescheduleentry", "billing.historicalcoverage", "billing.historicalcharge",
                    "billing.historicalinvoice", "billing.historicalpayment"]
_BILLING_DESK = [
    *_crud("billing.charge", "view"),
    *_crud("billing.chargeline", "view"),
    *_crud("billing.invoice", "view", "add"),
    *_crud("billing.payment", "view", "add"),
    *_crud("billing.payer", "view"),
    *_crud("billing.feescheduleentry", "view"),
    *_crud("billing.billingcode", "view"),
    *_crud("billing.coverage", "view", "add", "change"),
]
_BILLING_THERAPIST = [
    *_crud("billing.charge", "view"),
    *_crud("billing.chargeline", "view"),
    *_crud("billing.payer", "view"),
    *_crud("billing.billingcode", "view"),
]
_BILLING_MANAGER = [
    *_BILLING_DESK,
    *_crud("billing.billingcode", "add", "change"),
    *_crud("billing.payer", "add", "change"),
    *_crud("billing.feescheduleentry", "add"),
    *[perm for model in _BILLING_HISTORY for perm in _crud(model, "view")],
]

# What an assistant reads to treat a patient on a plan; they never prescribe or assess.
_ASSISTANT = [
    *_crud("patients.patient", "view"),
    *_crud("patients.referral", "view"),
    "patients.view_red_flag_screen",
    *_crud("scheduling.appointment", "view"),
    *_crud("scheduling.therapist", "view"),
    *_crud("scheduling.appointmentkind", "view"),
    *[perm for model in ["assessments.assessment", "assessments.sidefindings", "assessments.outcomemeasure",
                         "prescriptions.exercise", "prescriptions.program", "prescriptions.programitem",
                         "followups.sessionlog", "followups.sessionlogitem", "followups.progressionproposal"]
      for perm in _crud(model, "view")],
    *[perm for model in _VISIT_MODELS for perm in _crud(model, "view")],
    *_crud("visits.visitnote", "add", "change"),
    *_crud("visits.addendum", "add"),
    *_crud("visits.diagnosiscode", "view"),
]

ROLE_PERMISSIONS: dict[Role, list[str]] = {
    Role.FRONT_DESK: [*_DESK, *_BILLING_DESK],
    Role.THERAPIST: [
        *_DESK,
        "patients.view_red_flag_screen",
        "patients.decide_red_flag",
        *_crud("patients.historicalpatient", "view"),
        *_crud("patients.historicalreferral", "view"),
        *_crud("scheduling.timeoff", "add", "change"),
        *[perm for model in _CLINICAL_MODELS for perm in _crud(model, "view", "add", "change")],
        "prescriptions.delete_programitem",  # taking an exercise off a program (versions keep it)
        *[perm for model in _CLINICAL_HISTORY for perm in _crud(model, "view")],
        "ops.view_clinicpolicy",  # the thresholds and timings the clinic works to
        *[perm for model in _VISIT_MODELS for perm in _crud(model, "view", "add", "change")],
        *[perm for model in _VISIT_HISTORY for perm in _crud(model, "view")],
        *_crud("visits.diagnosiscode", "view", "add", "change"),
        *_BILLING_THERAPIST,
    ],
    Role.ASSISTANT: _ASSISTANT,
    Role.CLINIC_MANAGER: [
        *_DESK,
        "patients.view_red_flag_screen",
        *_crud("patients.historicalpatient", "view"),
        *_crud("patients.historicalreferral", "view"),
        *_crud("scheduling.historicalappointment", "view"),
        *_crud("scheduling.appointmentkind", "change"),
        *_crud("scheduling.therapist", "add", "change"),
        *_crud("scheduling.workinghours", "add", "change", "delete"),
        *_crud("scheduling.timeoff", "add", "change", "delete"),
        *_crud("notifications.outboxemail", "view", "change"),
        *[perm for model in _CLINICAL_MODELS + _CLINICAL_HISTORY for perm in _crud(model, "view")],
        "ops.view_accesslog",  # who opened which clinical record
        *[perm for model in _VISIT_MODELS + _VISIT_HISTORY for perm in _crud(model, "view")],
        *_crud("visits.diagnosiscode", "view", "add", "change"),
        # The clinic's policy (quiet hours, follow-up weeks, thresholds...), with its history.
        *_crud("ops.clinicpolicy", "view", "change"),
        *_crud("ops.historicalclinicpolicy", "view"),
        # Managers add and deactivate staff.
        *_crud("accounts.user", "view", "add", "change"),
        *_crud("accounts.historicaluser", "view"),
        *_BILLING_MANAGER,
        # Therapists' calendar feeds (issue 15): managers see who has one and revoke any.
        *_crud("calendars.calendarfeed", "view", "change"),
        # Webhooks (issue 15): managers register endpoints (and see their secrets), read the delivery log
        # and re-send; nobody else sees either. Endpoints are turned off, never deleted (the log points at them).
        *_crud("webhooks.webhookendpoint", "view", "add", "change"),
        *_crud("webhooks.webhookdelivery", "view", "change"),
    ],
}


def sync_role_groups(*, group_model=None, permission_model=None) -> None:
    """Create the role groups and give each exactly the permissions in ROLE_PERMISSIONS."""
    if group_model is None:
        from django.contrib.auth.models import Group as group_model
        from django.contrib.auth.models import Permission as permission_model
    for role, names in ROLE_PERMISSIONS.items():
        group, _ = group_model.objects.get_or_create(name=GROUP_NAMES[role])
        if permission_model is None:
            continue
        wanted = set()
        for name in names:
            app_label, codename = name.split(".")
            wanted.add((app_label, codename))
        permissions = [
            permission
            for permission in permission_model.objects.select_related("content_type").filter(
                codename__in={codename for _, codename in wanted}
            )
            if (permission.content_type.app_label, permission.codename) in wanted
        ]
        group.permissions.set(permissions)
