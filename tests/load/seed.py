"""Data for the load test: staff accounts, therapists with a full rota, patients with
referrals, and a diary of past and future appointments, all written in bulk.

Runs in any process where Django is set up: the test process on its test database
(tests/test_load.py), or bench/load.py on a database of its own. It returns what the
load scenario needs to know (user names, kinds, therapists, search terms) as a plain
dict, which the harness writes to a JSON file for Locust.

Passwords are hashed once with PBKDF2, Django's default hasher in production, and the
hash shared by every account: the server pays the real price of each sign-in, and
seeding does not pay it a hundred times. (The test suite's settings hash with MD5,
which production settings would not accept, so ``make_password`` is not used here.)
"""

from __future__ import annotations

import random
from datetime import datetime, time, timedelta

from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.contrib.auth.models import Group
from django.db.models import CharField, Value
from django.db.models.functions import Cast, Concat, LPad
from django.utils import timezone

from apps.accounts.models import User
from apps.accounts.roles import GROUP_NAMES, Role
from apps.patients.models import Patient, Referral, ReferralCause
from apps.scheduling.models import Appointment, AppointmentKind, AppointmentStatus, Therapist, WorkingHours
from hipclinic.zones import clinic_zone, local_to_utc

FIRST_NAMES = [
    "Ada", "Ben", "Cara", "Dev", "Elin", "Femi", "Gus", "Hana", "Ivo", "Jude", "Kofi", "Lena", "Mabel", "Nils",
    "Orla", "Pavel", "Quinn", "Rosa", "Sami", "Tess", "Uma", "Viktor", "Wren", "Xavi", "Yara", "Zeno", "Alma",
    "Bruno", "Cleo", "Dara", "Edie", "Finn", "Greta", "Hugo", "Iris", "Joel", "Kira", "Luca", "Maya", "Noor",
]
LAST_NAMES = [
    "Abbott", "Achebe", "Baker", "Barnes", "Castillo", "Chen", "Dalton", "Das", "Ellis", "Evans", "Fischer",
    "Foster", "Garcia", "Grant", "Hale", "Hughes", "Ito", "Iyer", "Jensen", "Jones", "Kaur", "Keller", "Lambert",
    "Lopez", "Mensah", "Moreau", "Nakamura", "Novak", "Okafor", "Olsen", "Patel", "Price", "Quist", "Reyes",
    "Rossi", "Santos", "Schmidt", "Tanaka", "Turner", "Ueda", "Varga", "Vaughan", "Walsh", "Weber", "Xu",
    "Yilmaz", "Young", "Zhang", "Ziegler", "Moss", "Hart", "Kovac", "Lund", "Marsh", "Nash", "Oakes", "Pike",
    "Rowe", "Shaw", "Tate",
]
CAUSES = [ReferralCause.HIP_OSTEOARTHRITIS, ReferralCause.CEREBRAL_PALSY, ReferralCause.LACK_OF_EXERCISE,
          ReferralCause.PROLONGED_SITTING]
# Kinds booked in the seeded diary, with how often each is picked.
DIARY_KINDS = [("follow_up", 0.6), ("reassessment", 0.2), ("initial_assessment", 0.2)]
DAY_START, DAY_END = time(8, 0), time(18, 0)
STEP = timedelta(minutes=30)


def staff_username(role: str, number: int) -> str:
    return f"load-{role}-{number:03d}"


def seed(
    *,
    password: str,
    desk_users: int,
    api_users: int,
    therapists: int = 8,
    patients: int = 3000,
    weeks_back: int = 4,
    weeks_ahead: int = 6,
    fill: float = 0.4,
    random_seed: int = 7,
) -> dict:
    """Write the clinic; return what the load scenario needs (no secrets but the shared password and the
    API users' authenticator keys)."""
    rng = random.Random(random_seed)
    encoded = PBKDF2PasswordHasher().encode(password, PBKDF2PasswordHasher().salt())

    desk_names = _staff("desk", desk_users, Role.FRONT_DESK, encoded)
    # API clients are integrations a clinic manager set up: they read the diary and book. Managers sign
    # in with two-factor, so each has an authenticator whose key the scenario computes codes from.
    api_names = _staff("api", api_users, Role.CLINIC_MANAGER, encoded)
    api_keys = _authenticators(api_names)
    rota = _therapists(therapists, encoded)
    patient_ids = _patients(patients, rng)
    booked_by = User.objects.get(username=desk_names[0])
    appointments = _diary(rota, patient_ids, booked_by, rng, weeks_back=weeks_back, weeks_ahead=weeks_ahead,
                          fill=fill)

    sample = rng.sample(patient_ids, min(300, len(patient_ids)))
    record_numbers = list(Patient.objects.filter(pk__in=sample).values_list("record_number", flat=True))
    names = list(Patient.objects.filter(pk__in=sample[:100]).values_list("first_name", "last_name"))
    return {
        "password": password,
        "desk_users": desk_names,
        "api_users": api_names,
        "api_keys": api_keys,
        "therapists": [therapist.pk for therapist in rota],
        "kinds": {kind.slug: kind.pk for kind in AppointmentKind.objects.filter(is_active=True)},
        # What a receptionist types: the start of a surname, a full name, or a record number.
        "search_terms": {
            "prefixes": sorted({name[:n] for name in LAST_NAMES for n in (3, 4)}),
            "full_names": [f"{first} {last}" for first, last in names],
            "record_numbers": record_numbers,
        },
        "patients": len(patient_ids),
        "appointments": appointments,
    }


def _staff(role: str, count: int, role_value: Role, encoded: str) -> list[str]:
    names = [staff_username(role, n) for n in range(1, count + 1)]
    users = User.objects.bulk_create(
        User(username=name, first_name="Load", last_name=f"{role.title()} {n}", email=f"{name}@clinic.test",
             password=encoded)
        for n, name in enumerate(names, start=1)
    )
    Group.objects.get(name=GROUP_NAMES[role_value]).user_set.add(*users)
    return names


def _authenticators(names: list[str]) -> dict[str, str]:
    """A confirmed authenticator (TOTP device) for each of these users; their hex keys by username."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    devices = TOTPDevice.objects.bulk_create(
        TOTPDevice(user=user, name="Load test", confirmed=True) for user in User.objects.filter(username__in=names))
    return {device.user.username: device.key for device in devices}


def _therapists(count: int, encoded: str) -> list[Therapist]:
    users = User.objects.bulk_create(
        User(username=staff_username("therapist", n), first_name=FIRST_NAMES[n % len(FIRST_NAMES)],
             last_name=LAST_NAMES[-n % len(LAST_NAMES)],
             email=f"therapist{n}@clinic.test", password=encoded)
        for n in range(1, count + 1)
    )
    Group.objects.get(name=GROUP_NAMES[Role.THERAPIST]).user_set.add(*users)
    rota = Therapist.objects.bulk_create(Therapist(user=user, display_name=user.get_full_name()) for user in users)
    WorkingHours.objects.bulk_create(
        WorkingHours(therapist=therapist, weekday=weekday, start_time=DAY_START, end_time=DAY_END)
        for therapist in rota for weekday in range(5)
    )
    return rota


def _patients(count: int, rng: random.Random) -> list[int]:
    today = timezone.localdate()
    rows = Patient.objects.bulk_create(
        Patient(
            first_name=rng.choice(FIRST_NAMES), last_name=rng.choice(LAST_NAMES),
            date_of_birth=today - timedelta(days=rng.randint(18 * 365, 90 * 365)),
            email=f"load.patient{n}@example.org", phone=f"+44207946{n % 10000:04d}",
            email_consent=rng.random() < 0.8,
        )
        for n in range(count)
    )
    Patient.objects.filter(record_number__isnull=True).update(
        record_number=Concat(Value("HC"), LPad(Cast("id", CharField()), 6, Value("0")))
    )
    Referral.objects.bulk_create(
        Referral(
            patient=patient, cause=rng.choice(CAUSES), referring_clinician="Dr Load, Test Practice",
            referral_date=today - timedelta(days=rng.randint(7, 120)),
            # A few open red-flag alerts, so the desk pages show them as they would in a clinic.
            red_flags=["constant_night_pain"] if rng.random() < 0.02 else [],
        )
        for patient in rows
    )
    return [patient.pk for patient in rows]


def _diary(rota, patient_ids, booked_by, rng, *, weeks_back: int, weeks_ahead: int, fill: float) -> int:
    """Fill each therapist's weekdays to about ``fill`` of their slots; no overlaps for anyone."""
    zone = clinic_zone()
    kinds = {kind.slug: kind for kind in AppointmentKind.objects.all()}
    slugs, weights = zip(*DIARY_KINDS, strict=True)
    now = timezone.now()
    today = timezone.localdate()
    busy: dict[int, list[tuple[datetime, datetime]]] = {}
    rows = []
    for offset in range(-7 * weeks_back, 7 * weeks_ahead):
        day = today + timedelta(days=offset)
        if day.weekday() > 4:
            continue
        day_end = local_to_utc(day, DAY_END, zone)
        for therapist in rota:
            start = local_to_utc(day, DAY_START, zone)
            while start < day_end:
                if rng.random() >= fill:
                    start += STEP
                    continue
                kind = kinds[rng.choices(slugs, weights)[0]]
                end = start + kind.duration
                patient_id = _free_patient(patient_ids, busy, start, end, rng)
                if end > day_end or patient_id is None:
                    start += STEP
                    continue
                busy.setdefault(patient_id, []).append((start, end))
                status = AppointmentStatus.COMPLETED if end <= now else AppointmentStatus.BOOKED
                rows.append(Appointment(patient_id=patient_id, therapist=therapist, kind=kind, start=start, end=end,
                                        status=status, booked_by=booked_by))
                start = end
    Appointment.objects.bulk_create(rows, batch_size=2000)
    return len(rows)


def _free_patient(patient_ids, busy, start, end, rng) -> int | None:
    for _ in range(5):
        candidate = rng.choice(patient_ids)
        if all(end <= other_start or start >= other_end for other_start, other_end in busy.get(candidate, ())):
            return candidate
    return None
