"""Queries and writes over Handoff's tables, each on a session the caller owns (one unit of work).

One module per kind of row; this package re-exports them, so callers write `repo.get_task(...)`.
"""

from .buffer import WriteBuffer, buffer_of, buffer_writes, flush_writes, insert_rows
from .definitions import (
    add_definition,
    definition_fields,
    definition_files,
    definition_version,
    definitions_summary,
    latest_definition,
    latest_definition_ref,
)
from .events import (
    add_events,
    add_events_returning_ids,
    completed_event,
    completion_ranks,
)
from .instances import (
    get_instance,
    insert_instance,
    list_instances,
    open_instances,
    update_instances,
    update_loaded_instance,
)
from .loading import new_row
from .new_instances import checks_latest, insert_indexed_instance
from .records import add_rows, delay_subjects, list_sla, records, set_sla, sla_settings
from .tasks import (
    OPEN_TASK_STATES,
    get_task,
    get_task_with_instance,
    insert_task,
    open_tasks_of,
    open_tasks_with_instances,
    set_task,
    update_task_if,
)
from .variables import Condition, rewrite_variables, write_variables

__all__ = [
    "OPEN_TASK_STATES",
    "Condition",
    "checks_latest",
    "rewrite_variables",
    "write_variables",
    "WriteBuffer",
    "add_definition",
    "add_events",
    "add_events_returning_ids",
    "add_rows",
    "buffer_of",
    "buffer_writes",
    "completed_event",
    "completion_ranks",
    "definition_fields",
    "definition_version",
    "definition_files",
    "definitions_summary",
    "delay_subjects",
    "flush_writes",
    "get_instance",
    "get_task",
    "get_task_with_instance",
    "insert_indexed_instance",
    "insert_instance",
    "insert_rows",
    "insert_task",
    "latest_definition",
    "latest_definition_ref",
    "list_instances",
    "list_sla",
    "new_row",
    "open_instances",
    "open_tasks_of",
    "open_tasks_with_instances",
    "records",
    "set_sla",
    "set_task",
    "sla_settings",
    "update_instances",
    "update_loaded_instance",
    "update_task_if",
]
