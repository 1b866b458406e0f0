"""Alembic environment: the engine comes from storage.Database (config.attributes['engine'])."""

from alembic import context
from sqlalchemy import create_engine

from storage.tables import metadata

config = context.config
target_metadata = metadata  # the schema's one definition (storage/tables.py)


def run_migrations_online() -> None:
    engine = config.attributes.get("engine")
    if engine is None:  # the alembic command line, with sqlalchemy.url in its config
        url = config.get_main_option("sqlalchemy.url")
        if not url:
            raise RuntimeError("set sqlalchemy.url, or run migrations through 'handoff init'")
        engine = create_engine(url)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=True,  # SQLite can only ALTER through table copies
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


run_migrations_online()
