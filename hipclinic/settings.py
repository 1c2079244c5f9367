"""hipclinic settings: one module, every deploy-time value read from the environment.

As checked out it runs with no services at all (SQLite under ``var/``, Kombu's
file-system broker, outgoing mail written as ``.eml`` files). With ``DEBUG`` off it
refuses to start on insecure or missing values. The README's configuration table lists
every variable read here.
"""

from datetime import timedelta
from pathlib import Path

from csp.constants import NONE, SELF, UNSAFE_INLINE

from hipclinic import config
from hipclinic.config import ConfigError

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(config.env_str("HIPCLINIC_VAR_DIR") or BASE_DIR / "var").resolve()
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # also makes VAR_DIR: embedded database, broker, mail

# ---------------------------------------------------------------------------- DJANGO

DEBUG = config.env_bool("DEBUG", False)

SECRET_KEY = config.env_str("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ConfigError(
            "SECRET_KEY must be set when DEBUG is off "
            "(make one with: python -c 'import secrets; print(secrets.token_urlsafe(50))')"
        )
    SECRET_KEY = "django-insecure-development-key-do-not-use-in-production"  # noqa: S105 - DEBUG only

ALLOWED_HOSTS = config.env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"] if DEBUG else [])
if not DEBUG and not ALLOWED_HOSTS:
    raise ConfigError("ALLOWED_HOSTS must be set when DEBUG is off (comma-separated host names)")
CSRF_TRUSTED_ORIGINS = config.env_list("CSRF_TRUSTED_ORIGINS", [])

DJANGO_APPS = [
    "hipclinic.apps.HipclinicAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
]
THIRD_PARTY_APPS = [
    "crispy_forms",
    "crispy_bootstrap5",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "simple_history",
    "phonenumber_field",
    "axes",
    "csp",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "pgtrigger",
]
# In layer order: an app may use those above it in this list, never those below
# (tests/test_layering.py). Composition apps (desk, chart) come last.
LOCAL_APPS = [
    "apps.accounts",
    "apps.ops",
    "apps.patients",
    "apps.notifications",
    "apps.scheduling",
    "apps.assessments",
    "apps.prescriptions",
    "apps.followups",
    "apps.visits",  # plans of care and visit notes: uses everything above, used by the composition apps
    "apps.desk",
    "apps.billing",
    "apps.chart",  # re-registers the patient's admin page with the other apps' panels: after every app with admin pages
    "apps.reports",  # the clinic's numbers (layer 9): reads every app above, billing too; nothing reads it
    "apps.fhir",  # interoperability (layer 9, beside reports): a FHIR R4 read API and bulk export
    "apps.webhooks",  # signed webhooks to integrators, through a delivery queue in the database
    "apps.calendars",  # therapists' secret iCalendar feeds
]
INSTALLED_APPS = DJANGO_APPS + THIRD_PARTY_APPS + LOCAL_APPS

MIDDLEWARE = [
    "apps.ops.middleware.RequestLogMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",  # request.user.is_verified(): the session's one-time code is in
    "apps.accounts.middleware.TwoFactorMiddleware",  # staff who need two-factor get nowhere else until then
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    "axes.middleware.AxesMiddleware",  # last, as django-axes asks: turns a lockout into its page
]

ROOT_URLCONF = "hipclinic.urls"
WSGI_APPLICATION = "hipclinic.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "apps.accounts.context_processors.role",
            ],
        },
    },
]

# ---------------------------------------------------------------------------- DATABASE

DATABASES = {
    "default": config.database_config(
        config.env_str("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'hipclinic.sqlite3'}"
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["OPTIONS"] = {
        # web, worker and beat share one file: take the write lock up front and wait
        # for it rather than failing with "database is locked".
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    # A file, not memory, so that a Celery worker started by a test sees the test data.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test-hipclinic.sqlite3")}
else:
    DATABASES["default"]["CONN_MAX_AGE"] = config.env_int("DATABASE_CONN_MAX_AGE", 60)
    # A restarted PostgreSQL leaves dead persistent connections; check before reuse.
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# ---------------------------------------------------------------------------- AUTH

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # refuses locked-out logins before checking the password
    "django.contrib.auth.backends.ModelBackend",
]
# Brute-force lockout (django-axes): after LOGIN_FAILURE_LIMIT wrong passwords for one
# username from one address, that pair is locked out for LOGIN_LOCKOUT_MINUTES. By the
# pair, so nobody can lock a colleague out from elsewhere. Logins by page and by API token.
AXES_FAILURE_LIMIT = config.env_int("LOGIN_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = timedelta(minutes=config.env_int("LOGIN_LOCKOUT_MINUTES", 15, minimum=1))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_VERBOSE = False  # its log lines name the username and address
AXES_IPWARE_PROXY_COUNT = config.env_int("PROXY_COUNT", 0)
# Wrong one-time codes count toward the same lockout (apps/accounts/lockout.py); like the
# password, a code typed is masked in django-axes' record of the attempt (with its defaults).
AXES_SENSITIVE_PARAMETERS = ["username", "ip_address", "code", "otp"]
# Two-factor sign-in (django-otp): who needs it is in apps/accounts/two_factor.py. The
# issuer is the name authenticator apps show above the code.
OTP_TOTP_ISSUER = "hipclinic"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
PASSWORD_RESET_TIMEOUT = 60 * 60 * 3  # a reset link works for three hours

# Staff sessions end after this many idle minutes: every request renews the cookie.
SESSION_IDLE_MINUTES = config.env_int("SESSION_IDLE_MINUTES", 30, minimum=1)
SESSION_COOKIE_AGE = SESSION_IDLE_MINUTES * 60
SESSION_SAVE_EVERY_REQUEST = True
SESSION_EXPIRE_AT_BROWSER_CLOSE = True

# ---------------------------------------------------------------------------- I18N / TIME

LANGUAGE_CODE = "en"
USE_I18N = True
USE_TZ = True  # stored in UTC, shown in the clinic's zone
CLINIC_TIME_ZONE = config.time_zone(config.env_str("CLINIC_TIME_ZONE") or "UTC")
TIME_ZONE = CLINIC_TIME_ZONE

# ---------------------------------------------------------------------------- STATIC

STATIC_URL = "static/"
# Uploaded files (exercise images). Serve MEDIA_ROOT from the web server or proxy in
# production; with DEBUG on, Django serves it.
MEDIA_URL = "media/"
MEDIA_ROOT = Path(config.env_str("MEDIA_ROOT") or VAR_DIR / "media")
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = DEBUG

# FHIR Bulk Data exports: where the NDJSON files are written (a disk the web processes can read
# too), and how many hours a finished export's files stay downloadable before beat deletes them.
FHIR_EXPORT_DIR = Path(config.env_str("FHIR_EXPORT_DIR") or VAR_DIR / "fhir-exports")
FHIR_EXPORT_HOURS = config.env_int("FHIR_EXPORT_HOURS", 24, minimum=1)

# ---------------------------------------------------------------------------- EMAIL

EMAIL_URL = config.env_str("EMAIL_URL")
if EMAIL_URL:
    globals().update(config.email_config(EMAIL_URL))
else:
    EMAIL_BACKEND = "hipclinic.mail.EmlFileBackend"
    EMAIL_FILE_PATH = str(VAR_DIR / "mail")
EMAIL_TIMEOUT = config.env_int("EMAIL_TIMEOUT", 15, minimum=1)
DEFAULT_FROM_EMAIL = config.env_str("DEFAULT_FROM_EMAIL") or "hipclinic <no-reply@localhost>"
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# ---------------------------------------------------------------------------- CACHE

# What must hold across gunicorn workers (the API token rate limit) needs a shared cache:
# CACHE_URL=redis://... in production (check --deploy says so when it is missing).
CACHES = {"default": config.cache_config(config.env_str("CACHE_URL"))}

# ---------------------------------------------------------------------------- CELERY

CELERY_BROKER_URL = config.broker_url(config.env_str("CELERY_BROKER_URL") or "filesystem://")
CELERY_BROKER_FOLDER = VAR_DIR / "broker"
if CELERY_BROKER_URL.startswith("filesystem"):
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(CELERY_BROKER_FOLDER),
        "data_folder_out": str(CELERY_BROKER_FOLDER),
        "processed_folder": str(VAR_DIR / "broker-processed"),
        "control_folder": str(VAR_DIR / "broker-control"),  # exchange bindings
        "store_processed": False,
    }
    # Kombu's file-system transport needs its folders before the first publish, which
    # may come from the web process before any worker has started.
    for _folder in ("broker", "broker-processed", "broker-control"):
        (VAR_DIR / _folder).mkdir(exist_ok=True)
else:
    # A task held by a worker killed with kill -9 comes back after this many seconds.
    # Work must be idempotent either way (the outbox's lease and sweep handle e-mail).
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": config.env_int("CELERY_VISIBILITY_TIMEOUT", 3600, minimum=10),
    }
CELERY_TASK_DEFAULT_QUEUE = config.env_str("CELERY_DEFAULT_QUEUE") or "hipclinic"
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ALWAYS_EAGER = False
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# When the broker goes away, a send already under way finishes and is recorded as sent
# (tests/test_faults.py); Celery 6 flips this default, which would cancel such sends.
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = False
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_TIMEZONE = CLINIC_TIME_ZONE
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")

# ---------------------------------------------------------------------------- THIRD PARTY

CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # Token first, so that an API call without credentials gets 401 with a
        # WWW-Authenticate header rather than 403.
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["hipclinic.api.RolePermissions"],
    # JSON only: form encodings cannot carry the API's nested items, lists and nulls, and DRF
    # reads a form differently (a field left out of a PUT form is set to false or blank, an
    # empty one counts as not given). The token view still takes forms (DRF's own choice).
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_PAGINATION_CLASS": "hipclinic.api.Pagination",
    "DEFAULT_FILTER_BACKENDS": [
        "hipclinic.api.FilterBackend",  # django-filter, refusing values it would ignore
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_SCHEMA_CLASS": "hipclinic.openapi.AutoSchema",  # documents the error answers too
    "DEFAULT_THROTTLE_RATES": {"token": config.env_str("API_TOKEN_RATE") or "10/min"},
    # The throttle's client address, from the same PROXY_COUNT as the lockout. DRF's default
    # (None) takes X-Forwarded-For as sent, so a client could name a new address each time.
    "NUM_PROXIES": AXES_IPWARE_PROXY_COUNT,
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "hipclinic API",
    "DESCRIPTION": (
        "Practice management for physical-therapy clinics treating weak hip flexors.\n\n"
        "Beside this API: a FHIR R4 (4.0.1) read API at /fhir/R4/ with the same credentials (therapists, "
        "assistants and clinic managers; its CapabilityStatement at /fhir/R4/metadata lists every type, search "
        "parameter and operation, including Patient/$everything and Bulk Data $export); therapists' secret "
        "iCalendar feeds at /calendars/feed/<token>.ics; and signed webhooks (Standard Webhooks headers) to the "
        "endpoints clinic managers register at /api/v1/webhook-endpoints/, for appointment.booked, "
        "appointment.rescheduled, appointment.cancelled, program.activated, visit_note.signed and "
        "invoice.issued. The README documents all three."
    ),
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["hipclinic.api.IsClinicStaff"],  # signed in and holding a role
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # Two choice sets are named "kind": each its own enum name in the schema (import paths, not imports).
    "ENUM_NAME_OVERRIDES": {
        "NoteKindEnum": "apps.visits.models.NoteKind",
        "PayerKindEnum": "apps.billing.models.PayerKind",
    },
}

# ---------------------------------------------------------------------------- SECURITY

X_FRAME_OPTIONS = "DENY"
# Content Security Policy (django-csp): scripts only from our own origin (every script is
# a static file; there is no inline script), no framing, forms post only to us. Inline
# style attributes stay allowed: Django's admin and Bootstrap utilities use them.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF, UNSAFE_INLINE],
        "img-src": [SELF, "data:"],
        "font-src": [SELF, "data:"],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    },
}
SECURE_CONTENT_TYPE_NOSNIFF = True
# Patient links carry a signed token in the path: never send it on to another site.
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_HTTPONLY = True
if not DEBUG:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = config.env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = config.env_int("SECURE_HSTS_SECONDS", 60 * 60 * 24 * 365)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = config.env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = config.env_bool("SECURE_HSTS_PRELOAD", False)
    if config.env_bool("BEHIND_TLS_PROXY", False):
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# HSTS preloading cannot be undone quickly, so it is the operator's explicit choice
# (SECURE_HSTS_PRELOAD=1), and its absence is not reported as a deployment problem.
SILENCED_SYSTEM_CHECKS = [] if DEBUG else ["security.W021"]

# ---------------------------------------------------------------------------- LOGGING

LOG_LEVEL = config.env_str("LOG_LEVEL") or "INFO"
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"line": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "filters": {"path_as_route": {"()": "apps.ops.log_filters.RequestPathAsRoute"}},
    # Django logs the path of refused requests (CSRF, 404s, suspicious input); a path can
    # be a patient's signed link, so every line written shows the URL pattern instead.
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "line", "filters": ["path_as_route"]}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        # Our request and task lines replace these: theirs carry query strings, task
        # arguments and exception texts, which can hold personal data.
        "django.server": {"level": "ERROR"},
        "django.request": {"level": "ERROR"},
        "celery.app.trace": {"level": "CRITICAL"},
        "celery.worker.strategy": {"level": "WARNING"},
        "axes": {"level": "WARNING"},
        # Seven INFO lines per rendered note PDF ("Step 1 - Fetching and parsing HTML"...).
        "weasyprint.progress": {"level": "WARNING"},
    },
}

PHONENUMBER_DEFAULT_REGION = config.env_str("PHONE_REGION") or None  # e.g. GB: numbers without +44

# ---------------------------------------------------------------------------- HIPCLINIC

HIPCLINIC_WORKER_STALE_AFTER_SECONDS = 5 * 60

# Links in e-mails (unsubscribe, waitlist offers, patient program links) start with this.
SITE_URL = (config.env_str("SITE_URL") or "http://127.0.0.1:8000").rstrip("/")

# Outbox: a claimed e-mail is held this long before another worker may take it over
# (a worker killed mid-send); a failing one is retried with exponential backoff this
# many times, then parked as failed for a re-send from the admin.
EMAIL_LEASE_SECONDS = config.env_int("EMAIL_LEASE_SECONDS", 120, minimum=5)
EMAIL_MAX_ATTEMPTS = config.env_int("EMAIL_MAX_ATTEMPTS", 6, minimum=1)
EMAIL_RETRY_BASE_SECONDS = config.env_int("EMAIL_RETRY_BASE_SECONDS", 60, minimum=1)

# Webhooks (apps/webhooks): an endpoint on a loopback, private, link-local or reserved address is
# refused (server-side request forgery), at registration and again at each delivery, and so is
# plain http. Both are for tests and development only (tests/settings.py turns them on).
WEBHOOKS_ALLOW_PRIVATE_ADDRESSES = config.env_bool("WEBHOOKS_ALLOW_PRIVATE_ADDRESSES", False)
WEBHOOKS_ALLOW_HTTP = config.env_bool("WEBHOOKS_ALLOW_HTTP", False)
# One POST waits this long for the receiver's answer (connect and read, each).
WEBHOOKS_TIMEOUT_SECONDS = config.env_int("WEBHOOKS_TIMEOUT_SECONDS", 10, minimum=1)
# A claimed delivery is held this long before the sweep may hand it to another worker.
WEBHOOKS_LEASE_SECONDS = config.env_int("WEBHOOKS_LEASE_SECONDS", 60, minimum=5)

# The slot finder's longest look-ahead in one request (desk page or API).
SLOT_SEARCH_MAX_DAYS = 62

# What a clinic manager chooses (quiet hours, follow-up weeks, assessment thresholds, the
# slot grid, the clinic's name and address on e-mails...) is not configured here: it is the
# clinic's policy, edited in the admin (apps/ops/models.py, ClinicPolicy).
