"""kombu's filesystem transport with atomic publishes (``cifs://``), for the file suite.

kombu 5.7's ``filesystem`` transport creates the message file under its final
name and then writes it, so a worker polling the folder can move and read a
still-empty file (``JSONDecodeError`` in the consumer, message lost).  This
subclass writes under a name the reader ignores and renames it into place.
Imported by ``ci_app`` so client and worker both know the alias.
"""

from __future__ import annotations

import os
import uuid
from time import monotonic
from typing import Any

from kombu.transport import TRANSPORT_ALIASES, filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps


class Channel(filesystem.Channel):
    def _put(self, queue: str, payload: Any, **kwargs: Any) -> None:
        name = f"{round(monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        staging = os.path.join(self.data_folder_out, f".staging-{name}.tmp")
        with open(staging, "wb") as f:
            f.write(str_to_bytes(dumps(payload)))
        os.replace(staging, final)


class Transport(filesystem.Transport):
    Channel = Channel


TRANSPORT_ALIASES.setdefault("cifs", "ci_fs_transport:Transport")
