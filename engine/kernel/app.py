"""The application's dependencies: built once by the composition root (engine/bootstrap.py), then given to
every use case as its first parameter. Caches inside are shared by every caller and safe across threads;
nothing here belongs to one call."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from storage import Database

from ..clock import Clock
from ..handlers import ServiceRegistry
from .definitions import Definitions
from .mail_cache import MailCache
from .permissions import Permissions
from .schema import Schema
from .sla_cache import SlaCache

if TYPE_CHECKING:
    import pluggy


@dataclass
class App:
    db: Database
    clock: Clock
    # Builds the hook manager (engine/bootstrap.py) the first time an operation records or notifies: a
    # read command never does, and pluggy, the recorders, the mail hook and the scan of every installed
    # package's entry points are ~10 ms of its start (issue 17).
    hook_manager: Callable[[], pluggy.PluginManager]
    handlers: ServiceRegistry  # service task handlers (engine/handlers.py)
    definitions: Definitions
    permissions: Permissions
    sla: SlaCache
    schema: Schema
    mail: MailCache = field(default_factory=MailCache)  # the mail settings (engine/notifications.py)
    built_hooks: pluggy.PluginManager | None = field(default=None, init=False, repr=False)
    hooks_lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    @property
    def hooks(self) -> pluggy.PluginManager:
        """The hook manager, built once (the web server's threads may ask at the same moment)."""
        if self.built_hooks is None:
            with self.hooks_lock:
                if self.built_hooks is None:
                    self.built_hooks = self.hook_manager()
        return self.built_hooks

    def ready(self) -> None:
        """SetupRequired unless the database has Handoff's current schema (checked once)."""
        self.schema.ready()
