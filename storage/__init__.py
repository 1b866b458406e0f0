"""Persistence: the tables (storage/tables.py), the ORM classes mapped onto them, the database and its
units of work, queries, Alembic migrations.

Stores SpiffWorkflow's serialized state as text and knows nothing of SpiffWorkflow, click or the engine.
Importing it does not import SQLAlchemy's ORM: a read command (storage/reads.py) runs without it, and
what writes imports storage.models and storage.repository itself.
"""

from .database import ConcurrentUpdate, Database, DatabaseMissing, SchemaOutdated, StorageError

__all__ = ["ConcurrentUpdate", "Database", "DatabaseMissing", "SchemaOutdated", "StorageError"]
