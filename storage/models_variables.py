"""The instance variable table: an instance's top-level data, searchable (storage/repository/variables.py)."""

# No `from __future__ import annotations`: see storage/models.py.

from sqlalchemy.orm import Mapped

from . import tables
from .models import Base


class InstanceVariable(Base):
    """An instance's top-level data, one row per name, for search by data (Camunda's variable table):
    written in the transaction that changes the data (storage/repository/variables.py). Numbers go to
    `num_value`, text (up to TEXT_LIMIT characters), booleans ("true"/"false") and ISO dates to
    `text_value`; lists, objects and longer text are not searchable."""

    __table__ = tables.instance_variable

    instance_id: Mapped[int]
    name: Mapped[str]
    num_value: Mapped[float | None]
    text_value: Mapped[str | None]
