"""Mail settings as text (`handoff notify set` and `show`): one `name: value` line each."""

from __future__ import annotations

from ..notifications import MailSettings


def settings(view: MailSettings) -> str:
    return "\n".join(f"{name}: {value}" for name, value in view.to_json().items())
