"""Files Handoff writes for people (reports, exports): whole or not at all."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import IO, Any

from .errors import CannotWrite


@contextmanager
def atomic_file(path: str | Path, *, binary: bool = False) -> Iterator[IO[Any]]:
    """A file written beside `path` and renamed over it at the end: a failed write leaves no half-written
    file behind, and an older file stays as it was. CannotWrite (one line) when the folder refuses."""
    target = os.path.abspath(path)
    try:
        fd, partial = tempfile.mkstemp(prefix=".handoff-", dir=os.path.dirname(target))
    except OSError as exc:
        raise CannotWrite(f"cannot write {path}: {exc.strerror}") from exc
    try:
        out: IO[Any] = os.fdopen(fd, "wb") if binary else os.fdopen(fd, "w", encoding="utf-8")
        with out:
            yield out
        os.chmod(partial, 0o644)
        os.replace(partial, target)
    except OSError as exc:
        raise CannotWrite(f"cannot write {path}: {exc.strerror}") from exc
    finally:
        with suppress(OSError):
            os.remove(partial)
