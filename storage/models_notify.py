"""The mail notifications' tables: settings and the lines waiting for a digest (storage/notify.py)."""

# No `from __future__ import annotations`: see storage/models.py.

from datetime import datetime

from sqlalchemy.orm import Mapped

from . import tables
from .models import Base


class NotifySetting(Base):
    """One setting of the mail notifications (`handoff notify set`); environment variables override them
    and the SMTP password is never stored (docs/notifications.md)."""

    __table__ = tables.notify_setting

    key: Mapped[str]
    value: Mapped[str]


class NotifyDigest(Base):
    """A line waiting for its recipient's next digest mail (arrivals in digest mode)."""

    __table__ = tables.notify_digest

    id: Mapped[int]
    recipient: Mapped[str]
    at: Mapped[datetime]
    line: Mapped[str]
