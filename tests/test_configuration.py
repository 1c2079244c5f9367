"""Configuration comes from the environment and bad values stop the process with one line."""

import os
import subprocess
import sys
import uuid
from email import message_from_bytes
from pathlib import Path

import pytest
from django.core.mail import send_mail

from hipclinic import config

ROOT = Path(__file__).resolve().parent.parent
PRODUCTION = {
    "SECRET_KEY": "kq3-production-secret-for-tests-0123456789abcdefghijklmnopqrstuv",
    "ALLOWED_HOSTS": "clinic.example.org",
    "CACHE_URL": "redis://127.0.0.1:6379/15",  # only configured: check --deploy connects to nothing
}


def manage(*args, **env):
    unset = {"DEBUG", "SECRET_KEY", "ALLOWED_HOSTS", "DJANGO_ALLOW_ASYNC_UNSAFE"}
    clean = {k: v for k, v in os.environ.items() if k not in unset}
    clean.update({"DEBUG": "0", "DATABASE_URL": "sqlite:////tmp/hipclinic-config-test.sqlite3", **env})
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=clean, capture_output=True, text=True, timeout=120
    )


def test_production_without_secret_key_refuses_to_start_with_one_line():
    result = manage("check", ALLOWED_HOSTS="clinic.example.org")
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "SECRET_KEY must be set when DEBUG is off" in lines[0]


def test_production_without_allowed_hosts_refuses_to_start():
    result = manage("check", SECRET_KEY=PRODUCTION["SECRET_KEY"])
    assert result.returncode != 0
    assert "ALLOWED_HOSTS must be set" in result.stderr


def test_check_deploy_is_clean_with_production_settings():
    result = manage("check", "--deploy", "--fail-level", "WARNING", **PRODUCTION)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_check_deploy_warns_when_no_shared_cache_holds_the_rate_limit():
    without_cache = {key: value for key, value in PRODUCTION.items() if key != "CACHE_URL"}
    result = manage("check", "--deploy", "--fail-level", "WARNING", **without_cache)
    assert result.returncode != 0
    assert "hipclinic.W001" in result.stderr + result.stdout and "CACHE_URL is not set" in result.stderr + result.stdout


@pytest.mark.redis
def test_the_token_rate_limit_is_shared_by_every_web_process(settings):
    """Two processes (two gunicorn workers, say) with one CACHE_URL share one count."""
    url = settings.CELERY_BROKER_URL.rsplit("/", 1)[0] + "/15"
    # The limit counts per client address: an address of this run's own (documentation
    # range) keeps another test run on the same Redis from sharing, or flushing, the count.
    address = f"2001:db8::{uuid.uuid4().hex[:4]}:{uuid.uuid4().hex[:4]}"
    probe = (
        "from django.test import Client; c = Client(); "
        f"print('|', *[c.post('/api/v1/auth/token/', {{}}, REMOTE_ADDR='{address}').status_code "
        "for _ in range(6)])"
    )
    env = {"DEBUG": "1", "ALLOWED_HOSTS": "testserver", "CACHE_URL": url, "API_TOKEN_RATE": "10/min"}
    first, second = (manage("shell", "-c", probe, **env) for _ in range(2))

    codes = [line[2:].split() for result in (first, second) for line in result.stdout.splitlines()
             if line.startswith("| ")]
    assert codes == [["400"] * 6, ["400"] * 4 + ["429"] * 2], first.stderr + second.stderr


def test_production_sends_hsts_over_https_and_redirects_plain_http():
    probe = (
        "from django.conf import settings; from django.test import Client; c = Client(); "
        "s = c.get('/api/v1/me/', secure=True, headers={'host': 'clinic.example.org'}); "
        "p = c.get('/api/v1/me/', headers={'host': 'clinic.example.org'}); "
        "print('|', s.headers.get('Strict-Transport-Security')); print('|', p.status_code, p.headers.get('Location')); "
        "print('|', settings.SESSION_COOKIE_SECURE, settings.CSRF_COOKIE_SECURE)"
    )
    result = manage("shell", "-c", probe, **PRODUCTION)

    assert result.returncode == 0, result.stderr
    hsts, redirect, secure_cookie = [line[2:] for line in result.stdout.splitlines() if line.startswith("| ")]
    assert hsts == "max-age=31536000; includeSubDomains"  # a year; preloading is the operator's choice
    assert redirect == "301 https://clinic.example.org/api/v1/me/"
    assert secure_cookie == "True True"  # session and CSRF cookies never travel over plain HTTP


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("DEBUG", "maybe", "is not a boolean"),
        ("DATABASE_URL", "mysql://root@localhost/x", "DATABASE_URL scheme 'mysql' is not supported"),
        ("EMAIL_URL", "smtps-typo://mail.example.org", "EMAIL_URL scheme 'smtps-typo' is not supported"),
        ("CELERY_BROKER_URL", "amqp://guest@localhost//", "CELERY_BROKER_URL scheme 'amqp' is not supported"),
        ("CLINIC_TIME_ZONE", "Mars/Olympus_Mons", "is not an IANA time zone"),
        ("CACHE_URL", "memcached://127.0.0.1:11211", "CACHE_URL scheme 'memcached' is not supported"),
        ("SESSION_IDLE_MINUTES", "half an hour", "is not a whole number"),
    ],
)
def test_a_bad_value_names_the_variable_in_one_line(variable, value, message):
    result = manage("check", **{**PRODUCTION, variable: value})
    assert result.returncode != 0
    assert result.stderr.strip().count("\n") == 0, result.stderr
    assert message in result.stderr


def test_email_url_schemes_map_to_smtp_security():
    assert config.email_config("smtp+tls://u:p@mail.example.org:587")["EMAIL_USE_TLS"] is True
    assert config.email_config("smtp+ssl://mail.example.org:465")["EMAIL_USE_SSL"] is True
    plain = config.email_config("smtp://mail.example.org:25")
    assert (plain["EMAIL_HOST"], plain["EMAIL_PORT"]) == ("mail.example.org", 25)
    assert not plain.get("EMAIL_USE_TLS") and not plain.get("EMAIL_USE_SSL")


def test_without_email_url_each_message_is_written_as_an_eml_file(settings, tmp_path):
    settings.EMAIL_BACKEND = "hipclinic.mail.EmlFileBackend"
    settings.EMAIL_FILE_PATH = str(tmp_path)

    send_mail("Your appointment", "See you on Monday.", None, ["pat@example.org"])
    send_mail("Second", "Another.", None, ["sam@example.org"])

    files = sorted(tmp_path.glob("*.eml"))
    assert len(files) == 2
    recipients = {message_from_bytes(path.read_bytes())["To"] for path in files}
    assert recipients == {"pat@example.org", "sam@example.org"}


def test_datetimes_are_stored_in_utc_and_shown_in_the_clinic_zone(settings):
    from django.conf import settings as live

    assert live.USE_TZ is True
    assert live.TIME_ZONE == live.CLINIC_TIME_ZONE
