"""Modules and names that load on first use, for the start-up of read commands.

`handoff tasks` needs the database and the views, not SpiffWorkflow, the sandbox or the report's
renderers; the facade names every use case, so it holds each as a `LazyModule`: the module is imported
when one of its names is first read (and imports then what it needs). Not importlib's `LazyLoader`: in
Python 3.11 two threads reading a name of a half-loaded module at once (the web server's threads) can
see the module without its names; `importlib.import_module` holds the import system's lock per module,
so a second thread waits for the first.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any


class LazyModule:
    """Stands for the module `name` (absolute) until one of its names is read, then forwards to it."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.module: Any = None

    def __getattr__(self, attribute: str) -> Any:
        module = self.module
        if module is None:
            module = self.module = importlib.import_module(self.name)
        return getattr(module, attribute)

    def __repr__(self) -> str:
        return f"<lazy module {self.name!r}{' (loaded)' if self.module is not None else ''}>"


def lazy_module(name: str) -> Any:
    """The module `name` (absolute) if it is loaded already, else a `LazyModule` standing for it."""
    return sys.modules.get(name) or LazyModule(name)


def lazy_names(
    package: str, names: Mapping[str, tuple[str, str]]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """A package's `__getattr__` and `__dir__` (PEP 562) for public names that load on first use:
    `names` maps each to (module, relative to `package`; attribute)."""

    def __getattr__(name: str) -> Any:
        try:
            module, attribute = names[name]
        except KeyError:
            raise AttributeError(f"module {package!r} has no attribute {name!r}") from None
        value = getattr(importlib.import_module(module, package), attribute)
        setattr(sys.modules[package], name, value)  # found directly from now on
        return value

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(names))

    return __getattr__, __dir__
