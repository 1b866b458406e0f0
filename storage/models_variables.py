"""The instance variable table: an instance's top-level data, searchable (storage/repository/variables.py)."""

# No `from __future__ import annotations`: see storage/models.py.

from sqlalchemy import Float, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from .models import Base


class InstanceVariable(Base):
    """An instance's top-level data, one row per name, for search by data (Camunda's variable table):
    written in the transaction that changes the data (storage/repository/variables.py). Numbers go to
    `num_value`, text (up to TEXT_LIMIT characters), booleans ("true"/"false") and ISO dates to
    `text_value`; lists, objects and longer text are not searchable."""

    __tablename__ = "instance_variable"
    __table_args__ = (
        Index("ix_instance_variable_number", "name", "num_value", "instance_id"),
        Index("ix_instance_variable_text", "name", "text_value", "instance_id"),
    )

    instance_id: Mapped[int] = mapped_column(
        ForeignKey("process_instance.id", ondelete="CASCADE"), primary_key=True
    )
    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    num_value: Mapped[float | None] = mapped_column(Float)
    text_value: Mapped[str | None] = mapped_column(String(255))
