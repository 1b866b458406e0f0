"""What a sandboxed script can name: its builtins, the date, time and money helpers, and the guards."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from datetime import date, timedelta, timezone
from datetime import datetime as _datetime
from datetime import time as _time
from decimal import Decimal
from types import MappingProxyType, ModuleType
from typing import Any

from RestrictedPython.Guards import safe_builtins

from .errors import ScriptRefused
from .guards import (
    GuardedInt,
    Guards,
    guarded_getattr_builtin,
    guarded_hasattr,
    guarded_iter,
    guarded_range,
    guarded_round,
)

# The names RestrictedPython's compiled code and Handoff's policy call; never task data.
GUARD_NAMES = frozenset(
    {
        "__builtins__",
        "_getattr_",
        "_getitem_",
        "_getiter_",
        "_iter_unpack_sequence_",
        "_unpack_sequence_",
        "_write_",
        "_inplacevar_",
        "_apply_",
        "_print_",
        "_print",
        "_mul_",
        "_pow_",
        "_lshift_",
        "_floordiv_",
        "_mod_",
        "_tick_",
        "_check_",
        "_sandbox_",
    }
)

SCRIPT_MARK = object()  # in every script namespace (as "_sandbox_"): how `globals()` finds the script's frame

# Modules that C code of the date helpers imports while a script runs (strftime imports `time`,
# strptime `_strptime`): Python's import goes through the *script's* builtins. The script itself
# cannot name `__import__`, and gets no module from it.
_IMPORTED_BY_HELPERS = frozenset({"time", "_strptime"})


def _helpers_import(name: str, *_args: Any, **_kwargs: Any) -> ModuleType:
    if name not in _IMPORTED_BY_HELPERS:
        raise ScriptRefused(f"import of {name!r} is not allowed in the script sandbox")
    return importlib.import_module(name)


class Builtin:
    """A builtin implemented by the sandbox, shown as Python shows its own: `<built-in function range>`,
    never the sandbox's function and address."""

    __slots__ = ("_function", "_name")

    def __init__(self, name: str, function: Callable[..., Any]) -> None:
        self._function = function
        self._name = name

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._function(*args, **kwargs)

    def __repr__(self) -> str:
        return f"<built-in function {self._name}>"


def refuse(what: str) -> Callable[..., Any]:
    def refused(*_args: Any, **_kwargs: Any) -> Any:
        raise ScriptRefused(f"{what} is not allowed in the script sandbox")

    return refused


def _caller_names() -> dict[str, Any]:
    """The variables of the script that called: the task data and what it assigned, without the guards.

    The nearest frame whose globals carry the mark: never this module's or a library's (`locals(*[])`
    calls through `_apply_`, whose globals are the environment's).
    """
    frame = sys._getframe(2)
    while frame is not None and frame.f_globals.get("_sandbox_") is not SCRIPT_MARK:
        frame = frame.f_back  # type: ignore[assignment]
    if frame is None:
        raise ScriptRefused("globals()/locals()/vars() outside a script")
    return {k: v for k, v in frame.f_globals.items() if k not in GUARD_NAMES}


def _script_names() -> dict[str, Any]:
    """`globals()` and `locals()` in a script: a copy of its variables, never the namespace itself."""
    return _caller_names()


def _vars(*obj: Any) -> dict[str, Any]:
    if obj:
        raise ScriptRefused("vars(object) is not allowed in the script sandbox")
    return _caller_names()


class Namespace:
    """A read-only bag of names (the `datetime` helper). Never a real module: `datetime.sys` exists."""

    __slots__ = ("_names",)

    def __init__(self, **names: Any) -> None:
        object.__setattr__(self, "_names", MappingProxyType(names))

    def __getattr__(self, name: str) -> Any:
        try:
            return self._names[name]
        except KeyError:
            raise AttributeError(name) from None

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("read-only")

    def __repr__(self) -> str:
        return f"<helpers {', '.join(self._names)}>"


def script_builtins(guards: Guards) -> dict[str, Any]:
    names = dict(safe_builtins)
    names.pop("__build_class__", None)  # class statements are refused; no back door through the builtin
    names.pop("_getattr_", None)
    own: dict[str, Callable[..., Any]] = {
        "iter": guarded_iter,
        "range": guarded_range,
        "round": guarded_round,
        "pow": guards.pow,
        "divmod": guards.divmod,
        "getattr": guarded_getattr_builtin,
        "hasattr": guarded_hasattr,
        "globals": _script_names,
        "locals": _script_names,
        "vars": _vars,
        "setattr": names["setattr"],
        "delattr": names["delattr"],
    }
    for name in ("open", "exec", "eval", "compile", "input", "breakpoint", "memoryview", "help"):
        own[name] = refuse(f"{name}()")
    names.update({name: Builtin(name, function) for name, function in own.items()})
    names.update(
        {
            # what scripts commonly use, beyond RestrictedPython's minimal set
            "int": GuardedInt,
            "dict": dict,
            "list": list,
            "tuple": tuple,
            "set": set,
            "frozenset": frozenset,
            "sorted": sorted,
            "reversed": reversed,
            "enumerate": enumerate,
            "zip": zip,
            "map": map,
            "filter": filter,
            "sum": sum,
            "min": min,
            "max": max,
            "any": any,
            "all": all,
            "next": next,
            "format": format,
            "bin": bin,
            "ascii": ascii,
            "bytes": bytes,
            # the date, time and money helpers
            "datetime": Namespace(
                datetime=_datetime,
                date=date,
                time=_time,
                timedelta=timedelta,
                timezone=timezone,
                MINYEAR=1,
                MAXYEAR=9999,
            ),
            "timedelta": timedelta,
            "date": date,
            "timezone": timezone,
            "Decimal": Decimal,
            "__import__": _helpers_import,
        }
    )
    return names
