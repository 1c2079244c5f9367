"""The embedded e-mail backend: every message becomes one ``.eml`` file under ``var/mail/``.

Django's own file backend appends many messages to one log file; a file per message
opens in any mail client and is easy for a developer (or a test) to pick up.
"""

import os
import uuid

from django.conf import settings
from django.core.mail.backends.base import BaseEmailBackend
from django.utils import timezone


class EmlFileBackend(BaseEmailBackend):
    def __init__(self, *, file_path: str | None = None, **kwargs):
        super().__init__(**kwargs)
        self.file_path = file_path or settings.EMAIL_FILE_PATH

    def send_messages(self, email_messages) -> int:
        os.makedirs(self.file_path, exist_ok=True)
        sent = 0
        for message in email_messages:
            name = f"{timezone.now():%Y%m%d-%H%M%S}-{uuid.uuid4().hex[:12]}.eml"
            final = os.path.join(self.file_path, name)
            partial = final + ".part"
            with open(partial, "wb") as handle:
                handle.write(message.message().as_bytes(linesep="\r\n"))
            os.replace(partial, final)  # readers never see half a message
            sent += 1
        return sent
