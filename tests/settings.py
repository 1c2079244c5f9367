"""Settings for the test suite: hipclinic's own settings with development defaults.

The environment still wins (CI sets DATABASE_URL and CELERY_BROKER_URL); only DEBUG
defaults to on, so a bare ``pytest`` needs no SECRET_KEY. pytest-django turns DEBUG off
again while tests run. Tests of production behaviour start ``manage.py`` in a child
process with production values (tests/test_configuration.py).
"""

import os

os.environ.setdefault("DEBUG", "1")

from hipclinic.settings import *  # noqa: F403

# Tests run webhook receivers on loopback over plain http (tests/webhooks); the SSRF tests turn these off.
WEBHOOKS_ALLOW_PRIVATE_ADDRESSES = True
WEBHOOKS_ALLOW_HTTP = True
