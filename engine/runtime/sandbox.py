"""The script sandbox: how Handoff runs the Python that uploaded BPMN carries (docs/security.md).

SpiffWorkflow evaluates every script task, pre/post script, gateway condition, timer expression,
multi-instance expression and DMN cell through its script engine's *environment*. Handoff replaces that
environment:

- `SandboxEnvironment` (the default) compiles each text with RestrictedPython: no imports, no names or
  attributes starting with `_`, no frame/code/traceback attributes, no `str.format` (its fields reach
  attributes), no `open`/`exec`/`eval`/`compile`, no class statements. Names come from the task data and a
  small set of builtins and helpers. Each run has a CPU-time limit and a memory cap.
- `TrustedEnvironment` (`handoff deploy --trusted-scripts`) is SpiffWorkflow's own full Python, still
  under the CPU-time limit, so that a runaway loop cannot hold a worker forever.

Limits, and why they are built so (measured on the 2-core machines here, per evaluation):
- CPU: on the main thread (the CLI, each `handoff worker` process) `signal.setitimer(ITIMER_PROF)` arms a
  process CPU-time timer whose handler raises inside the script; arming and disarming cost ~1 us and
  nothing per bytecode. Off the main thread signals cannot be used, so the sandbox compiles a deadline
  check into every `while` body, function and lambda, and iterates `for` loops through a checking
  iterator. Exception handlers compiled from scripts re-raise once the limit has passed, so a bare
  `except:` cannot swallow it. Python checks signals between bytecodes: one long C-level call overruns
  the limit by its own duration, which the guards below keep short.
- Memory: `RLIMIT_AS` is lowered to the address space in use plus the cap around each run (~5 us:
  two `setrlimit` calls and one read of `/proc/self/statm`), so any allocation beyond it fails with
  MemoryError inside the script, C-level ones included (`[0] * 10**9`). It is process-wide: several
  threads running scripts at once share one raised ceiling (counted under a lock). tracemalloc was
  rejected: tracing every allocation of the process costs far more than the scripts themselves.
- Sizes: `*`, `**`, `<<`, `//`, `%`, `pow` and `divmod` are compiled into guards that refuse results
  beyond the memory cap (strings, lists) or integers beyond `MAX_INT_BITS` (an integer product that size
  takes ~10 ms; at 2**24 bits one C multiplication runs for seconds, past any signal; integer division
  is quadratic); `range` holds at most `MAX_RANGE` numbers.
"""

from __future__ import annotations

import ast
import operator
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta, timezone
from datetime import datetime as _datetime
from datetime import time as _time
from decimal import Decimal
from functools import lru_cache
from types import CodeType, MappingProxyType, ModuleType
from typing import Any

from RestrictedPython import compile_restricted_eval, compile_restricted_exec
from RestrictedPython.Guards import (
    full_write_guard,
    guarded_iter_unpack_sequence,
    guarded_unpack_sequence,
    safe_builtins,
    safer_getattr_raise,
)
from RestrictedPython.PrintCollector import PrintCollector
from RestrictedPython.transformer import INSPECT_ATTRIBUTES, RestrictingNodeTransformer
from SpiffWorkflow.bpmn.script_engine import TaskDataEnvironment

from engine.errors import SetupRequired

CPU_SECONDS_ENV = "HANDOFF_SCRIPT_CPU_SECONDS"
MEMORY_MIB_ENV = "HANDOFF_SCRIPT_MEMORY_MIB"
MAX_INT_BITS = 1 << 18  # ~79,000 decimal digits
MAX_MODPOW_BITS = 4096  # pow(a, b, m): exponent and modulus (RSA sizes); ~0.15 s at the bound
MAX_RANGE = 10_000_000  # sum(range(MAX_RANGE)) is one C call of ~0.1 s


@dataclass(frozen=True)
class Limits:
    """Per evaluation: CPU seconds and memory MiB (0 turns the memory cap off)."""

    cpu_seconds: float = 2.0
    memory_mib: int = 256

    @classmethod
    def from_env(cls) -> Limits:
        """The defaults, overridden by HANDOFF_SCRIPT_CPU_SECONDS and HANDOFF_SCRIPT_MEMORY_MIB."""
        default = cls()
        try:
            cpu = float(os.environ.get(CPU_SECONDS_ENV) or default.cpu_seconds)
            memory = int(os.environ.get(MEMORY_MIB_ENV) or default.memory_mib)
        except ValueError as exc:
            raise ValueError(f"{CPU_SECONDS_ENV}/{MEMORY_MIB_ENV}: {exc}") from None
        if cpu <= 0 or memory < 0:
            raise ValueError(f"{CPU_SECONDS_ENV} must be > 0 and {MEMORY_MIB_ENV} >= 0")
        return cls(cpu, memory)

    def cpu_text(self) -> str:
        return f"the script used more than its CPU time limit ({self.cpu_seconds:g} s)"

    def memory_text(self) -> str:
        return f"the script needed more than its memory limit ({self.memory_mib} MiB)"


class ScriptNotAllowed(SyntaxError):
    """The sandbox does not compile this script: a construct, name or attribute it does not allow. A
    SyntaxError so that SpiffWorkflow reports its line, as for a script that does not parse."""


class ScriptRefused(Exception):
    """The sandbox refused a call while the script ran (`open()`, `vars(object)`, ...)."""


class ScriptLimitExceeded(Exception):
    """The script ran out of CPU time or memory, or asked for a result larger than the sandbox allows."""


def _refuse(what: str) -> Callable[..., Any]:
    def refused(*_args: Any, **_kwargs: Any) -> Any:
        raise ScriptRefused(f"{what} is not allowed in the script sandbox")

    return refused


# --- compiling ----------------------------------------------------------------------------------------


def _call(name: str, *args: ast.expr) -> ast.Call:
    return ast.Call(func=ast.Name(name, ast.Load()), args=list(args), keywords=[])


def _at(new: Any, old: ast.AST) -> Any:
    """`new` and every node inside it without a position take `old`'s (compile() needs them)."""
    for node in ast.walk(new):
        if "lineno" in node._attributes and not hasattr(node, "lineno"):
            ast.copy_location(node, old)
    return new


_GUARDED_OPS: dict[type[ast.operator], str] = {
    ast.Mult: "_mul_",
    ast.Pow: "_pow_",
    ast.LShift: "_lshift_",
    ast.FloorDiv: "_floordiv_",
    ast.Mod: "_mod_",
}


_NO_IMPORT = (
    "import statements are not allowed in the script sandbox (deploy with --trusted-scripts to import)"
)


class _Policy(RestrictingNodeTransformer):
    """RestrictedPython's policy, plus: no imports or classes, size guards on `*`, `**` and `<<`, a limit
    check at the top of each exception handler, and (`ticks`) deadline checks in loops and functions."""

    ticks = False

    def visit_Import(self, node: ast.Import) -> Any:
        self.error(node, _NO_IMPORT)
        return node

    def visit_ImportFrom(self, node: ast.ImportFrom) -> Any:
        self.error(node, _NO_IMPORT)
        return node

    def visit_ClassDef(self, node: ast.ClassDef) -> Any:
        self.error(node, "class statements are not allowed")
        return node

    def visit_BinOp(self, node: ast.BinOp) -> Any:
        node = self.node_contents_visit(node)
        guard = _GUARDED_OPS.get(type(node.op))
        if guard is None:
            return node
        return _at(_call(guard, node.left, node.right), node)

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> Any:
        handler: Any = super().visit_ExceptHandler(node)
        handler.body.insert(0, _at(ast.Expr(_call("_check_")), node))
        return handler

    def visit_While(self, node: ast.While) -> Any:
        node = self.node_contents_visit(node)
        if self.ticks:
            node.body.insert(0, _at(ast.Expr(_call("_tick_")), node))
        return node

    def visit_FunctionDef(self, node: ast.FunctionDef) -> Any:
        function: Any = super().visit_FunctionDef(node)
        if self.ticks:
            function.body.insert(0, _at(ast.Expr(_call("_tick_")), node))
        return function

    def visit_Lambda(self, node: ast.Lambda) -> Any:
        function: Any = super().visit_Lambda(node)
        if self.ticks:  # `_tick_() or body`: _tick_ returns None
            function.body = _at(ast.BoolOp(ast.Or(), [_call("_tick_"), function.body]), function.body)
        return function


class _TickingPolicy(_Policy):
    ticks = True


@lru_cache(maxsize=4096)
def _code(source: str, mode: str, ticks: bool) -> CodeType:
    """Compiled once per text (RestrictedPython's transform costs ~100x a run of a short script)."""
    policy = _TickingPolicy if ticks else _Policy
    compile_fn = compile_restricted_eval if mode == "eval" else compile_restricted_exec
    # '<string>': the name SpiffWorkflow's error reporting looks for to find the failing line.
    result = compile_fn(source, filename="<string>", policy=policy)
    if result.errors:
        first = result.errors[0]
        line = 0  # SpiffWorkflow compares it with 0
        if first.startswith("Line "):
            head, _, rest = first.partition(": ")
            line = int(head[5:]) if head[5:].isdigit() else 0
            first = rest
        more = f" (and {len(result.errors) - 1} more)" if len(result.errors) > 1 else ""
        error = ScriptNotAllowed(f"{first.rstrip('.')}{more}")
        error.lineno = line
        raise error
    assert result.code is not None
    return result.code


# --- guards ---------------------------------------------------------------------------------------------

_SEQUENCES = (str, bytes, list, tuple)


class _Guards:
    """The functions RestrictedPython's compiled code calls, bound to one set of limits."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.max_bytes = limits.memory_mib * 1024 * 1024 if limits.memory_mib else None

    def _too_big(self) -> ScriptLimitExceeded:
        return ScriptLimitExceeded(self.limits.memory_text())

    def check_product(self, a: Any, b: Any) -> None:
        ta, tb = type(a), type(b)
        if ta is int and tb is int:
            if a.bit_length() + b.bit_length() > MAX_INT_BITS:
                raise ScriptLimitExceeded(f"the script computed an integer of more than {MAX_INT_BITS} bits")
        elif self.max_bytes is not None:
            if isinstance(a, _SEQUENCES) and isinstance(b, int):
                self._check_repeat(a, b)
            elif isinstance(b, _SEQUENCES) and isinstance(a, int):
                self._check_repeat(b, a)

    def _check_repeat(self, seq: Any, n: int) -> None:
        width = 8 if isinstance(seq, (list, tuple)) else 1  # a pointer per item; a byte per character
        if n > 0 and len(seq) * n * width > (self.max_bytes or 0):
            raise self._too_big()

    def mul(self, a: Any, b: Any) -> Any:
        self.check_product(a, b)
        return a * b

    def check_power(self, a: Any, b: Any, modulus: Any = None) -> None:
        if not (isinstance(a, int) and isinstance(b, int)):
            return
        if modulus is not None:
            if isinstance(modulus, int) and max(b.bit_length(), modulus.bit_length()) > MAX_MODPOW_BITS:
                raise ScriptLimitExceeded(
                    f"pow() with an exponent or modulus of more than {MAX_MODPOW_BITS} bits"
                )
            return
        if b > 0 and abs(a) > 1 and a.bit_length() * b > MAX_INT_BITS:
            raise ScriptLimitExceeded(f"the script computed an integer of more than {MAX_INT_BITS} bits")

    def pow(self, a: Any, b: Any, modulus: Any = None) -> Any:
        self.check_power(a, b, modulus)
        return pow(a, b) if modulus is None else pow(a, b, modulus)

    @staticmethod
    def check_division(a: Any, b: Any) -> None:
        """Integer division is quadratic in C: huge operands (made by `int.from_bytes`, say) must not
        reach it. `%` on a string is formatting and passes."""
        if (
            type(a) is int
            and type(b) is int
            and max(a.bit_length(), b.bit_length()) > MAX_INT_BITS
            and b.bit_length() > 64
        ):
            raise ScriptLimitExceeded(f"the script divided integers of more than {MAX_INT_BITS} bits")

    def floordiv(self, a: Any, b: Any) -> Any:
        self.check_division(a, b)
        return a // b

    def mod(self, a: Any, b: Any) -> Any:
        self.check_division(a, b)
        return a % b

    def divmod(self, a: Any, b: Any) -> Any:
        self.check_division(a, b)
        return divmod(a, b)

    def lshift(self, a: Any, b: Any) -> Any:
        if isinstance(a, int) and isinstance(b, int) and a and a.bit_length() + b > MAX_INT_BITS:
            raise ScriptLimitExceeded(f"the script computed an integer of more than {MAX_INT_BITS} bits")
        return a << b

    def inplace(self, op: str, x: Any, y: Any) -> Any:
        if op == "*=":
            self.check_product(x, y)
        elif op == "**=":
            self.check_power(x, y)
        elif op == "<<=":
            return self.lshift(x, y)
        elif op in ("//=", "%="):
            self.check_division(x, y)
        return _INPLACE[op](x, y)


_INPLACE: dict[str, Callable[[Any, Any], Any]] = {
    "+=": operator.iadd,
    "-=": operator.isub,
    "*=": operator.imul,
    "/=": operator.itruediv,
    "//=": operator.ifloordiv,
    "%=": operator.imod,
    "**=": operator.ipow,
    ">>=": operator.irshift,
    "&=": operator.iand,
    "|=": operator.ior,
    "^=": operator.ixor,
    "@=": operator.imatmul,
}


def _apply(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    return func(*args, **kwargs)


def _getitem(obj: Any, key: Any) -> Any:
    return obj[key]


def _getattr(obj: Any, name: str, *default: Any) -> Any:
    if len(default) > 1:
        raise TypeError("getattr expected at most 3 arguments")
    try:
        return safer_getattr_raise(obj, name)
    except AttributeError:
        if default and not name.startswith("_") and name not in INSPECT_ATTRIBUTES:
            return default[0]
        raise


def _hasattr(obj: Any, name: str) -> bool:
    try:
        safer_getattr_raise(obj, name)
    except AttributeError:
        return False
    return True


def _iter(obj: Any) -> Iterator[Any]:
    return iter(obj)  # one argument only: iter(callable, sentinel) is an endless loop in C


def _range(*args: int) -> range:
    numbers = range(*args)
    try:
        size = len(numbers)
    except OverflowError:
        size = MAX_RANGE + 1
    if size > MAX_RANGE:
        raise ScriptLimitExceeded(f"range() of more than {MAX_RANGE:,} numbers")
    return numbers


_GUARD_NAMES = frozenset(
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


_MARK = object()  # in every script namespace (as "_sandbox_"): how the shims below find it


def _caller_names() -> dict[str, Any]:
    """The variables of the script that called: the task data and what it assigned, without the guards.

    The nearest frame whose globals carry the mark: never this module's or a library's (`locals(*[])`
    calls through `_apply_`, whose globals are this module's).
    """
    frame = sys._getframe(2)
    while frame is not None and frame.f_globals.get("_sandbox_") is not _MARK:
        frame = frame.f_back  # type: ignore[assignment]
    if frame is None:
        raise ScriptRefused("globals()/locals()/vars() outside a script")
    return {k: v for k, v in frame.f_globals.items() if k not in _GUARD_NAMES}


def _script_names() -> dict[str, Any]:
    """`globals()` and `locals()` in a script: a copy of its variables, never the namespace itself."""
    return _caller_names()


def _vars(*obj: Any) -> dict[str, Any]:
    if obj:
        raise ScriptRefused("vars(object) is not allowed in the script sandbox")
    return _caller_names()


class _Namespace:
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


def _builtins(guards: _Guards) -> dict[str, Any]:
    names = dict(safe_builtins)
    names.pop("__build_class__", None)  # class statements are refused; no back door through the builtin
    names.update(
        {
            # what scripts commonly use, beyond RestrictedPython's minimal set
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
            "iter": _iter,
            "format": format,
            "bin": bin,
            "ascii": ascii,
            "bytes": bytes,
            "range": _range,
            "pow": guards.pow,
            "divmod": guards.divmod,
            "getattr": _getattr,
            "hasattr": _hasattr,
            "globals": _script_names,
            "locals": _script_names,
            "vars": _vars,
            # the date, time and money helpers
            "datetime": _Namespace(
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
        }
    )
    for name in ("open", "exec", "eval", "compile", "input", "breakpoint", "memoryview", "help"):
        names[name] = _refuse(f"{name}()")
    return names


# --- limits -------------------------------------------------------------------------------------------


class _Budget:
    """One evaluation's CPU deadline."""

    __slots__ = ("active", "expired", "deadline", "limits", "count")

    def __init__(self, limits: Limits, *, thread: bool) -> None:
        self.active = True
        self.expired = False
        self.limits = limits
        self.count = 0
        self.deadline = time.thread_time() + limits.cpu_seconds if thread else 0.0

    @property
    def text(self) -> str:
        return self.limits.cpu_text()

    def tick(self) -> None:
        """Off the main thread: compiled into loops and functions; reads the clock every 256 calls."""
        self.count += 1
        if self.expired or (self.count & 255 == 0 and time.thread_time() > self.deadline):
            self.expired = True
            raise ScriptLimitExceeded(self.text)

    def check(self) -> None:
        """At the top of every exception handler: a script cannot catch the limit and go on."""
        if self.expired:
            raise ScriptLimitExceeded(self.text)

    def ticking_iter(self, obj: Any) -> Iterator[Any]:
        for item in obj:
            self.tick()
            yield item


_MAIN_THREAD = threading.main_thread().ident
_current: _Budget | None = None  # the main thread's running budget, for the signal handler
_handler_installed = False  # SIGPROF is Handoff's while scripts run (signal.getsignal costs ~1 us a call)


def _on_cpu_timer(_signum: int, _frame: Any) -> None:
    budget = _current
    if budget is not None and budget.active:
        budget.expired = True
        raise ScriptLimitExceeded(budget.text)


class _AddressSpace:
    """The memory cap: RLIMIT_AS lowered to what is in use plus the cap while any script runs."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._active = 0
        self._saved: tuple[int, int] | None = None
        self._soft = 0
        self._fd: int | None = None
        self._pid = 0
        try:
            import resource

            self._resource: Any = resource
            self._page = resource.getpagesize()
            self.available = sys.platform.startswith("linux") and os.path.exists("/proc/self/statm")
        except ImportError:
            self.available = False

    def _in_use(self) -> int:
        if self._fd is None or self._pid != os.getpid():  # a forked child reads its own statm
            self._fd = os.open("/proc/self/statm", os.O_RDONLY)
            self._pid = os.getpid()
        return int(os.pread(self._fd, 64, 0).split(None, 1)[0]) * self._page

    def enter(self, cap: int) -> bool:
        if not self.available or not cap:
            return False
        resource = self._resource
        with self._lock:
            if self._saved is None:  # the process's own limit, read once: restored after every run
                self._saved = resource.getrlimit(resource.RLIMIT_AS)
            if self._active == 0:
                try:
                    self._soft = self._in_use() + cap
                except (OSError, ValueError):  # no readable /proc (a sandboxed host): size guards only
                    self.available = False
                    return False
            else:  # another thread's script is running: give this one its own cap on top
                self._soft += cap
            hard = self._saved[1]
            soft = self._soft if hard == resource.RLIM_INFINITY else min(self._soft, hard)
            resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
            self._active += 1
        return True

    def exit(self) -> None:
        with self._lock:
            self._active -= 1
            if self._active == 0 and self._saved is not None:
                self._resource.setrlimit(self._resource.RLIMIT_AS, self._saved)


_address_space = _AddressSpace()


def run_limited(limits: Limits, run: Callable[[_Budget], Any], *, memory: bool = True) -> Any:
    """Run `run(budget)` under the CPU limit (and the memory cap): the one place where limits are set."""
    global _current, _handler_installed
    on_main = threading.get_ident() == _MAIN_THREAD
    budget = _Budget(limits, thread=not on_main)
    capped = memory and _address_space.enter(limits.memory_mib * 1024 * 1024)
    outer = _current
    armed = on_main and outer is None  # nested (a script's expression inside a script): one timer
    try:
        if armed:
            if not _handler_installed:
                signal.signal(signal.SIGPROF, _on_cpu_timer)
                _handler_installed = True
            _current = budget
            # Re-fires every 50 ms after the limit, should the first one land outside the script.
            signal.setitimer(signal.ITIMER_PROF, limits.cpu_seconds, 0.05)
        try:
            return run(budget)
        finally:
            budget.active = False
            if armed:
                signal.setitimer(signal.ITIMER_PROF, 0)
                _current = None
    except MemoryError:
        if capped:
            raise ScriptLimitExceeded(limits.memory_text()) from None
        raise
    finally:
        if capped:
            _address_space.exit()


# --- the environments -------------------------------------------------------------------------------


class SandboxEnvironment(TaskDataEnvironment):  # type: ignore[misc]
    """Scripts and expressions through RestrictedPython, under the limits (the default)."""

    def __init__(self, limits: Limits) -> None:
        super().__init__({})
        self.limits = limits
        guards = _Guards(limits)
        self._static = {
            "__builtins__": _builtins(guards),
            "_getattr_": safer_getattr_raise,
            "_getitem_": _getitem,
            "_getiter_": iter,
            "_iter_unpack_sequence_": guarded_iter_unpack_sequence,
            "_unpack_sequence_": guarded_unpack_sequence,
            "_write_": full_write_guard,
            "_inplacevar_": guards.inplace,
            "_apply_": _apply,
            "_print_": PrintCollector,
            "_mul_": guards.mul,
            "_pow_": guards.pow,
            "_lshift_": guards.lshift,
            "_floordiv_": guards.floordiv,
            "_mod_": guards.mod,
            "_sandbox_": _MARK,
        }

    def _namespace(self, base: dict[str, Any], budget: _Budget, thread: bool) -> dict[str, Any]:
        base.update(self._static)
        base["_check_"] = budget.check
        if thread:
            base["_tick_"] = budget.tick
            base["_getiter_"] = budget.ticking_iter
        return base

    def evaluate(
        self, expression: str, context: dict[str, Any], external_context: dict[str, Any] | None = None
    ) -> Any:
        thread = threading.get_ident() != _MAIN_THREAD
        code = _code(expression, "eval", thread)

        def run(budget: _Budget) -> Any:
            names = dict(external_context) if external_context else {}
            names.update(context)
            return eval(code, self._namespace(names, budget, thread))

        return run_limited(self.limits, run)

    def execute(
        self, script: str, context: dict[str, Any], external_context: dict[str, Any] | None = None
    ) -> bool:
        external = external_context or {}
        self.check_for_overwrite(context, external)
        thread = threading.get_ident() != _MAIN_THREAD
        code = _code(script, "exec", thread)

        def run(budget: _Budget) -> dict[str, Any]:
            names = dict(context)
            names.update(external)
            exec(code, self._namespace(names, budget, thread))
            return names

        names = run_limited(self.limits, run)
        # Only a script that finished changes the data: a failed one leaves it as it was (no half-written
        # variables, no memory bomb kept in the data and saved with the instance).
        for key in [k for k in context if k not in names]:
            del context[key]
        for key, value in names.items():
            if key in _GUARD_NAMES or key in external:
                continue
            if callable(value):  # as SpiffWorkflow: functions a script defines do not stay in the data
                context.pop(key, None)
            else:
                context[key] = value
        return True


class TrustedEnvironment(TaskDataEnvironment):  # type: ignore[misc]
    """SpiffWorkflow's full Python for trusted deployments, under the CPU limit (no memory cap: native
    libraries a trusted script imports may reserve address space far beyond what they use)."""

    def __init__(self, limits: Limits) -> None:
        super().__init__({})
        self.limits = limits

    def evaluate(
        self, expression: str, context: dict[str, Any], external_context: dict[str, Any] | None = None
    ) -> Any:
        return run_limited(
            self.limits,
            lambda _b: super(TrustedEnvironment, self).evaluate(expression, context, external_context),
            memory=False,
        )

    def execute(
        self, script: str, context: dict[str, Any], external_context: dict[str, Any] | None = None
    ) -> bool:
        run_limited(
            self.limits,
            lambda _b: super(TrustedEnvironment, self).execute(script, context, external_context),
            memory=False,
        )
        # Imported modules are not data: they would stop the instance's state from serializing.
        for key in [k for k, v in context.items() if isinstance(v, ModuleType)]:
            del context[key]
        return True


_limits: Limits | None = None
_environments: dict[bool, TaskDataEnvironment] = {}


def configure(limits: Limits | None) -> None:
    """Set the limits for this process (None: from the environment again); applies to workflows loaded
    afterwards."""
    global _limits
    _limits = limits
    _environments.clear()


def current_limits() -> Limits:
    global _limits
    if _limits is None:
        try:
            _limits = Limits.from_env()
        except ValueError as exc:
            raise SetupRequired(f"script limits: {exc}") from None
    return _limits


def environment(trusted: bool) -> TaskDataEnvironment:
    """The process-wide environment for sandboxed or trusted scripts (stateless between runs)."""
    env = _environments.get(trusted)
    if env is None:
        limits = current_limits()
        env = TrustedEnvironment(limits) if trusted else SandboxEnvironment(limits)
        _environments[trusted] = env
    return env
