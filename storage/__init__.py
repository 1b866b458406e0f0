"""Persistence: SQLAlchemy models, the database and its units of work, queries, Alembic migrations.

Stores SpiffWorkflow's serialized state as text and knows nothing of SpiffWorkflow, click or the engine.
"""

from . import models_notify, models_variables  # noqa: F401 - their tables join Base.metadata
from .database import ConcurrentUpdate, Database, DatabaseMissing, SchemaOutdated, StorageError

__all__ = ["ConcurrentUpdate", "Database", "DatabaseMissing", "SchemaOutdated", "StorageError"]
