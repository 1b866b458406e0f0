"""Mail notifications (docs/notifications.md): their settings (`handoff notify set`, or the environment)
and the sending, over SMTP with the standard library.

The mails themselves are decided by the built-in notify hook (engine/hooks/mail.py), after each commit:
a person hears when a task is assigned to them or they become a candidate, a lane when work arrives
(immediately, or in a digest), the admins when an SLA breaks. Nothing is sent until a host is set.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from storage import notify as store

from .errors import InvalidInput
from .kernel.app import App
from .kernel.units import Units

if TYPE_CHECKING:  # smtplib and email load when a mail is sent, not with every command
    from email.message import EmailMessage

# setting -> its environment variable (which wins over the stored setting)
SETTINGS = {
    "host": "HANDOFF_SMTP_HOST",
    "port": "HANDOFF_SMTP_PORT",
    "from": "HANDOFF_SMTP_FROM",
    "username": "HANDOFF_SMTP_USER",
    "starttls": "HANDOFF_SMTP_STARTTLS",
    "timeout": "HANDOFF_SMTP_TIMEOUT",
    "arrival": "HANDOFF_NOTIFY_ARRIVAL",
    "digest_minutes": "HANDOFF_NOTIFY_DIGEST_MINUTES",
    "url": "HANDOFF_NOTIFY_URL",
}
PASSWORD_ENV = "HANDOFF_SMTP_PASSWORD"  # never stored in the database
ARRIVAL_MODES = ("immediate", "digest", "off")
DEFAULTS = {"port": "25", "starttls": "false", "timeout": "5", "arrival": "immediate", "digest_minutes": "60"}


@dataclass(frozen=True)
class MailSettings:
    host: str | None
    port: int
    sender: str
    username: str | None
    password: str | None
    starttls: bool
    timeout: float
    arrival: str
    digest_minutes: float
    url: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "host": self.host,
            "port": self.port,
            "from": self.sender,
            "username": self.username,
            "password_set": self.password is not None,
            "starttls": self.starttls,
            "timeout": self.timeout,
            "arrival": self.arrival,
            "digest_minutes": self.digest_minutes,
            "url": self.url,
        }


def _checked(key: str, value: str) -> str:
    value = value.strip()
    if key == "port" and not (value.isdigit() and 0 < int(value) < 65536):
        raise InvalidInput(f"port {value!r} is not a port number (1-65535)")
    if key in ("timeout", "digest_minutes"):
        try:
            number = float(value)
        except ValueError:
            raise InvalidInput(f"{key} {value!r} is not a number") from None
        if not 0 < number <= 10_080:
            raise InvalidInput(f"{key} must be more than 0 and at most 10080")
    if key == "starttls" and value.lower() not in ("true", "false"):
        raise InvalidInput("starttls is true or false")
    if key == "arrival" and value not in ARRIVAL_MODES:
        raise InvalidInput(f"arrival is one of {', '.join(ARRIVAL_MODES)}")
    if key == "from" and ("@" not in value or any(c.isspace() for c in value)):
        raise InvalidInput(f"from {value!r} is not an e-mail address")
    if len(value) > 1024 or not value.isprintable():
        raise InvalidInput(f"{key} must be at most 1024 printable characters")
    return value


def settings_from(stored: dict[str, str]) -> MailSettings:
    """The effective settings: environment, else stored, else the defaults."""
    values = {**DEFAULTS, **stored}
    for key, env in SETTINGS.items():
        if os.environ.get(env):
            values[key] = os.environ[env]
    host = values.get("host") or None
    return MailSettings(
        host=host,
        port=int(values["port"]),
        sender=values.get("from") or f"handoff@{host or 'localhost'}",
        username=values.get("username") or None,
        password=os.environ.get(PASSWORD_ENV) or None,
        starttls=values["starttls"].lower() == "true",
        timeout=float(values["timeout"]),
        arrival=values["arrival"] if values["arrival"] in ARRIVAL_MODES else "immediate",
        digest_minutes=float(values["digest_minutes"]),
        url=(values.get("url") or "").rstrip("/") or None,
    )


def set_settings(app: App, units: Units, values: dict[str, str | None], *, actor: str | None) -> MailSettings:
    """Admins set the mail settings; None removes one (back to its default)."""
    app.ready()
    app.permissions.authorize(actor, "notify")
    unknown = [k for k in values if k not in SETTINGS]
    if unknown:
        raise InvalidInput(f"unknown setting {unknown[0]!r}: one of {', '.join(SETTINGS)}")
    checked = {k: (_checked(k, v) if v is not None else None) for k, v in values.items()}
    with units.operation() as work:
        store.set_settings(work.session, checked)
        current = store.settings(work.session)
    app.mail.forget()
    return settings_from(current)


def show_settings(app: App, *, actor: str | None) -> MailSettings:
    app.ready()
    app.permissions.authorize(actor, "notify")
    with app.db.reader() as session:
        return settings_from(store.settings(session))


def send(settings: MailSettings, messages: Sequence[EmailMessage]) -> None:
    """Send over one SMTP connection, bounded by the timeout; raises what went wrong (after trying all)."""
    if not messages or settings.host is None:
        return
    import smtplib

    failures: list[str] = []
    with smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout) as smtp:
        if settings.starttls:
            smtp.starttls()
        if settings.username and settings.password:
            smtp.login(settings.username, settings.password)
        for message in messages:
            try:
                smtp.send_message(message)
            except smtplib.SMTPException as exc:
                failures.append(f"to {message['To']}: {exc}")
    if failures:
        raise smtplib.SMTPException(f"{len(failures)} of {len(messages)} mails refused: {failures[0]}")


def message(settings: MailSettings, to: str, subject: str, body: str) -> EmailMessage:
    from email.message import EmailMessage

    mail = EmailMessage()
    mail["From"] = settings.sender
    mail["To"] = to
    mail["Subject"] = subject
    mail.set_content(body)
    return mail


def flush_digests(app: App, units: Units, *, actor: str | None, all_due: bool = True) -> int:
    """Send the waiting digests now (`handoff notify flush`); returns how many mails went."""
    app.ready()
    app.permissions.authorize(actor, "notify")
    settings = settings_from(app.mail.get(app.db))
    return send_digests(app, units, settings, older_than=None if all_due else app.clock())


def send_digests(app: App, units: Units, settings: MailSettings, *, older_than: datetime | None) -> int:
    if settings.host is None:
        return 0
    cutoff = older_than - timedelta(minutes=settings.digest_minutes) if older_than is not None else None
    with units.operation() as work:
        mails = digest_mails(settings, store.take_digests(work.session, cutoff))
        send(settings, mails)  # a failure keeps the lines (the transaction rolls back)
    return len(mails)


def digest_mails(settings: MailSettings, due: dict[str, list[tuple[datetime, str]]]) -> list[EmailMessage]:
    """One mail per recipient listing the tasks that arrived since their last digest."""
    return [
        message(
            settings,
            to,
            f"[Handoff] {len(lines)} new task{'s' if len(lines) != 1 else ''} in your lanes",
            "New work arrived in your lanes:\n\n" + "\n".join(f"- {line}" for _, line in lines) + "\n",
        )
        for to, lines in due.items()
    ]


__all__ = [
    "ARRIVAL_MODES",
    "PASSWORD_ENV",
    "SETTINGS",
    "MailSettings",
    "digest_mails",
    "flush_digests",
    "message",
    "send",
    "send_digests",
    "set_settings",
    "settings_from",
    "show_settings",
]
