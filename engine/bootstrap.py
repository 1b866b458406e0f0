"""The one composition root: the database, the hook manager (built-in recorders, installed `handoff.hooks`
entry points, the caller's plugins), the service task handlers and the clock, wired into the `App` that
every use case is given. The CLI, the worker, the simulation and the demo all build their application here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from storage import Database, StorageError

from .clock import Clock, utc_now
from .errors import SetupRequired
from .handlers import Handler, ServiceRegistry
from .kernel.app import App
from .kernel.definitions import Definitions
from .kernel.mail_cache import MailCache
from .kernel.permissions import Permissions
from .kernel.schema import Schema
from .kernel.sla_cache import SlaCache

if TYPE_CHECKING:
    import pluggy


def build(
    database: Database | str,
    *,
    clock: Clock = utc_now,
    plugins: Iterable[object] = (),
    load_entry_points: bool = True,
    handlers: Mapping[str, Handler] | None = None,
) -> App:
    """An application over `database` (a Database, or its URL).

    `plugins` are hook objects registered beside the built-in recorders and the installed `handoff.hooks`
    entry points; `handlers` are service task handlers by name, beside the installed `handoff.services`
    entry points (switch both groups off with `load_entry_points=False`).
    """
    if isinstance(database, str):
        try:
            database = Database(database)
        except StorageError as exc:
            raise SetupRequired(str(exc)) from exc
    schema = Schema(database)
    mail = MailCache()
    extra = list(plugins)
    db = database

    def hook_manager() -> pluggy.PluginManager:
        """Built when an operation first records or notifies (engine/kernel/app.py `hooks`)."""
        from .hooks import plugin_manager
        from .mail_hook import MailNotifier

        # The mail notifier is a notify hook registered like anyone's (engine/mail_hook.py)
        notifier = MailNotifier(db, clock, mail)
        return plugin_manager([notifier, *extra], load_entry_points=load_entry_points)

    return App(
        db=database,
        clock=clock,
        hook_manager=hook_manager,
        handlers=ServiceRegistry(handlers, load_entry_points=load_entry_points),
        definitions=Definitions(),
        permissions=Permissions(database, schema),
        sla=SlaCache(),
        schema=schema,
        mail=mail,
    )
