"""Reading deploy-time configuration from the environment, loudly.

Every value the settings read from the environment goes through these helpers, so a
typo such as ``DEBUG=ture`` or ``DATABASE_URL=postgress://...`` stops the process with
one line naming the variable, instead of starting with a silently different setup.
"""

from __future__ import annotations

import os
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import environ
from django.core.exceptions import ImproperlyConfigured

TRUE_WORDS = {"1", "true", "yes", "on"}
FALSE_WORDS = {"0", "false", "no", "off", ""}

DATABASE_SCHEMES = {"sqlite", "postgres", "postgresql", "pgsql"}
EMAIL_SCHEMES = {"smtp", "smtp+tls", "smtp+ssl"}
BROKER_SCHEMES = {"filesystem", "redis", "rediss"}
CACHE_SCHEMES = {"redis", "rediss"}


class ConfigError(ImproperlyConfigured):
    """A deploy-time value is missing or wrong; the message is one line for the operator."""


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default).strip()


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    word = raw.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ConfigError(f"{name}={raw!r} is not a boolean; use 1/0, true/false, yes/no or on/off")


def env_int(name: str, default: int, *, minimum: int = 0) -> int:
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a whole number") from None
    if value < minimum:
        raise ConfigError(f"{name}={value} is below the minimum of {minimum}")
    return value


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_int_list(name: str, default: list[int]) -> list[int]:
    try:
        return [int(item) for item in env_list(name, [str(value) for value in default])]
    except ValueError:
        raise ConfigError(f"{name} must be whole numbers separated by commas, e.g. 2,4,6") from None


def _scheme(url: str) -> str:
    return urlsplit(url).scheme.lower()


def database_config(url: str) -> dict:
    if _scheme(url) not in DATABASE_SCHEMES:
        raise ConfigError(
            f"DATABASE_URL scheme {_scheme(url)!r} is not supported; "
            "use postgres://user:password@host:port/name or sqlite:////absolute/path"
        )
    config = environ.Env.db_url_config(url)
    if not config.get("NAME"):
        raise ConfigError("DATABASE_URL names no database")
    return config


def email_config(url: str) -> dict:
    if _scheme(url) not in EMAIL_SCHEMES:
        raise ConfigError(
            f"EMAIL_URL scheme {_scheme(url)!r} is not supported; "
            "use smtp://, smtp+tls:// or smtp+ssl:// (or leave it unset to write .eml files)"
        )
    config = environ.Env.email_url_config(url)
    if not config.get("EMAIL_HOST"):
        raise ConfigError("EMAIL_URL names no host")
    return config


def broker_url(url: str) -> str:
    if _scheme(url) not in BROKER_SCHEMES:
        raise ConfigError(
            f"CELERY_BROKER_URL scheme {_scheme(url)!r} is not supported; "
            "use redis://host:port/db (or leave it unset for the embedded file-system broker)"
        )
    return url


def cache_config(url: str) -> dict:
    """Redis when CACHE_URL names one (shared by every process); else this process's memory."""
    if not url:
        return {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    if _scheme(url) not in CACHE_SCHEMES:
        raise ConfigError(f"CACHE_URL scheme {_scheme(url)!r} is not supported; use redis://host:port/db")
    return {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": url}


def time_zone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"CLINIC_TIME_ZONE={name!r} is not an IANA time zone such as Europe/London") from None
    return name
