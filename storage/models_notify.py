"""The mail notifications' tables: settings and the lines waiting for a digest (storage/notify.py)."""

# No `from __future__ import annotations`: see storage/models.py.

from datetime import datetime

from sqlalchemy import Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from .models import Base


class NotifySetting(Base):
    """One setting of the mail notifications (`handoff notify set`); environment variables override them
    and the SMTP password is never stored (docs/notifications.md)."""

    __tablename__ = "notify_setting"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(1024))


class NotifyDigest(Base):
    """A line waiting for its recipient's next digest mail (arrivals in digest mode)."""

    __tablename__ = "notify_digest"
    __table_args__ = (Index("ix_notify_digest_recipient", "recipient", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    recipient: Mapped[str] = mapped_column(String(254))
    at: Mapped[datetime]
    line: Mapped[str] = mapped_column(Text)
