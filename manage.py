#!/usr/bin/env python
"""Django's command-line utility for hipclinic."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hipclinic.settings")
    from django.conf import settings
    from django.core.management import execute_from_command_line

    from hipclinic.config import ConfigError

    try:
        settings.INSTALLED_APPS  # noqa: B018 - load settings now to report bad configuration in one line
    except ConfigError as error:
        sys.exit(f"hipclinic: configuration error: {error}")
    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
