"""The application's dependencies: built once by the composition root (engine/bootstrap.py), then given to
every use case as its first parameter. Caches inside are shared by every caller and safe across threads;
nothing here belongs to one call."""

from __future__ import annotations

from dataclasses import dataclass, field

import pluggy

from storage import Database

from ..clock import Clock
from ..handlers import ServiceRegistry
from .definitions import Definitions
from .mail_cache import MailCache
from .permissions import Permissions
from .schema import Schema
from .sla_cache import SlaCache


@dataclass
class App:
    db: Database
    clock: Clock
    hooks: pluggy.PluginManager
    handlers: ServiceRegistry  # service task handlers (engine/handlers.py)
    definitions: Definitions
    permissions: Permissions
    sla: SlaCache
    schema: Schema
    mail: MailCache = field(default_factory=MailCache)  # the mail settings (engine/notifications.py)

    def ready(self) -> None:
        """SetupRequired unless the database has Handoff's current schema (checked once)."""
        self.schema.ready()
