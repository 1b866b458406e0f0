"""The limits on running uploaded code: CPU time and memory per evaluation, wall-clock time per operation.

Measured on the 2-core machines here:
- CPU, main thread (the CLI, each `handoff worker` process): `setitimer(ITIMER_PROF)` arms a process
  CPU-time timer around each evaluation; its SIGPROF handler raises `LimitInterrupt` inside the running
  code (~1 us to arm and disarm, nothing per bytecode). It fires again every 50 ms once expired, should
  one firing land where C code clears errors.
- CPU, other threads (signals reach only the main thread): the policy compiles a `_tick_()` call into
  every loop body, function and lambda; it reads `time.thread_time()` every 256 calls.
- Memory: `RLIMIT_AS` is lowered to the address space in use plus the cap, so any allocation beyond it
  fails with MemoryError, C-level ones included: inside an operation once, at its first sandboxed
  evaluation, and held until the operation ends (~15 us a time); outside any, around the evaluation.
  Process-wide: several threads running scripts at once share one ceiling raised by one cap each. tracemalloc was rejected: tracing
  every allocation of the process costs far more than the scripts.
- Operation: `operation_budget()` gives one operation (start, complete, a timer firing...) a wall-clock
  deadline. On the main thread `setitimer(ITIMER_REAL)` (SIGALRM, re-firing every second) interrupts
  running code, trusted code blocked in a call included; between evaluations the engine checks the
  deadline after every step (`check_operation()`), where stopping leaves a consistent workflow.

Code that catches: `LimitInterrupt` is a BaseException, so `except Exception:` in trusted code does not
swallow it, and every exception handler and `finally` block compiled from a sandboxed script starts with
`_check_()`, which raises again once a limit struck. The boundary of each evaluation (`run_limited`)
turns what uploaded code raised into an ordinary failure of its task: the limit as `ScriptLimitExceeded`,
and `SystemExit`, `KeyboardInterrupt` (unless a real Ctrl-C), `GeneratorExit` or any other BaseException
as `ScriptStopped`, never the process's own exit.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from .errors import LimitInterrupt, OperationTimeout, ScriptLimitExceeded, ScriptStopped

CPU_SECONDS_ENV = "HANDOFF_SCRIPT_CPU_SECONDS"
MEMORY_MIB_ENV = "HANDOFF_SCRIPT_MEMORY_MIB"
OPERATION_SECONDS_ENV = "HANDOFF_OPERATION_SECONDS"


@dataclass(frozen=True)
class Limits:
    """Per evaluation: CPU seconds and memory MiB (0 turns the memory cap off); per operation: seconds of
    wall-clock time. The operation's budget stays below the worker's default lease (60 s), so that no
    other worker takes an instance over while its operation may still run."""

    cpu_seconds: float = 2.0
    memory_mib: int = 256
    operation_seconds: float = 30.0

    @classmethod
    def from_env(cls) -> Limits:
        """The defaults, overridden by HANDOFF_SCRIPT_CPU_SECONDS, HANDOFF_SCRIPT_MEMORY_MIB and
        HANDOFF_OPERATION_SECONDS."""
        default = cls()
        try:
            cpu = float(os.environ.get(CPU_SECONDS_ENV) or default.cpu_seconds)
            memory = int(os.environ.get(MEMORY_MIB_ENV) or default.memory_mib)
        except ValueError as exc:
            raise ValueError(f"{CPU_SECONDS_ENV}/{MEMORY_MIB_ENV}: {exc}") from None
        try:
            operation = float(os.environ.get(OPERATION_SECONDS_ENV) or default.operation_seconds)
        except ValueError as exc:
            raise ValueError(f"{OPERATION_SECONDS_ENV}: {exc}") from None
        if not 0 < cpu < 1e6 or memory < 0:  # setitimer refuses absurd values with an OverflowError
            raise ValueError(f"{CPU_SECONDS_ENV} must be > 0 and {MEMORY_MIB_ENV} >= 0")
        if not 0 < operation < 1e6:
            raise ValueError(f"{OPERATION_SECONDS_ENV} must be more than 0 seconds (and less than 1e6)")
        return cls(cpu, memory, operation)

    def cpu_text(self) -> str:
        return f"the script used more than its CPU time limit ({self.cpu_seconds:g} s)"

    def memory_text(self) -> str:
        return f"the script needed more than its memory limit ({self.memory_mib} MiB)"

    def operation_text(self) -> str:
        return (
            f"the operation ran longer than its time budget ({self.operation_seconds:g} s, "
            f"{OPERATION_SECONDS_ENV})"
        )


# --- the operation's wall-clock budget ------------------------------------------------------------------


class Operation:
    """One operation's deadline (time.monotonic), and whether it holds the memory cap."""

    __slots__ = ("deadline", "expired", "text", "capped")

    def __init__(self, limits: Limits) -> None:
        self.deadline = time.monotonic() + limits.operation_seconds
        self.expired = False
        self.text = limits.operation_text()
        # The memory cap, lowered at the operation's first sandboxed evaluation and held until it ends
        # (None: not lowered yet; False: not available here).
        self.capped: bool | None = None

    def passed(self) -> bool:
        if not self.expired and time.monotonic() > self.deadline:
            self.expired = True
        return self.expired


_MAIN_THREAD = threading.main_thread().ident
_local = threading.local()  # other threads' operations
_operation: Operation | None = None  # the main thread's operation, for the SIGALRM handler
_current: Budget | None = None  # the main thread's running evaluation, for the signal handlers
_installed: set[int] = set()  # signals whose handler is Handoff's (signal.getsignal costs ~1 us a call)
_sigints = 0  # real Ctrl-Cs seen, to tell them from a KeyboardInterrupt a script raises


def on_main_thread() -> bool:
    return threading.get_ident() == _MAIN_THREAD


def current_operation() -> Operation | None:
    return _operation if on_main_thread() else getattr(_local, "operation", None)


def check_operation() -> None:
    """Raise OperationTimeout once the running operation passed its deadline. The engine calls it after
    each step, where stopping leaves a consistent workflow (an incident that can be retried)."""
    operation = current_operation()
    if operation is not None and operation.passed():
        raise OperationTimeout(operation.text)


def _install(signum: int, handler: Callable[[int, Any], None]) -> None:
    if signum not in _installed:
        signal.signal(signum, handler)
        _installed.add(signum)


def _on_alarm(_signum: int, _frame: Any) -> None:
    operation = _operation
    if operation is None:
        return
    operation.expired = True
    budget = _current
    if budget is not None and budget.active:  # inside uploaded code: stop it here
        budget.expired = True
        budget.reason = operation.text
        raise LimitInterrupt(operation.text)
    # Elsewhere (SpiffWorkflow between steps, the database): the next check_operation() stops it.


@contextmanager
def operation_budget(limits: Limits) -> Iterator[Operation]:
    """Give the block a wall-clock budget; an operation already running on this thread keeps its own (the
    outermost block is the operation). Raises OperationTimeout if the block is interrupted outside any
    evaluation."""
    global _operation
    main = on_main_thread()
    outer = _operation if main else getattr(_local, "operation", None)
    if outer is not None:
        yield outer
        return
    operation = Operation(limits)
    if main:
        _install(signal.SIGALRM, _on_alarm)
        _operation = operation
        signal.setitimer(signal.ITIMER_REAL, limits.operation_seconds, 1.0)
    else:
        _local.operation = operation
    try:
        yield operation
    except LimitInterrupt as exc:  # struck outside an evaluation: an ordinary failure of the operation
        raise OperationTimeout(str(exc)).with_traceback(exc.__traceback__) from None
    finally:
        if main:
            signal.setitimer(signal.ITIMER_REAL, 0)
            _operation = None
        else:
            _local.operation = None
        _release_cap(operation)


# --- one evaluation's CPU budget ------------------------------------------------------------------------


class Budget:
    """One evaluation's CPU deadline (off the main thread), and whether a limit struck."""

    __slots__ = ("active", "expired", "reason", "deadline", "limits", "count", "operation", "sigints")

    def __init__(self, limits: Limits, operation: Operation | None, *, thread: bool) -> None:
        self.active = True
        self.expired = False
        self.limits = limits
        self.reason = ""  # what struck, once a limit did
        self.count = 0
        self.operation = operation
        self.deadline = time.thread_time() + limits.cpu_seconds if thread else 0.0
        self.sigints = _sigints

    def _strike(self, reason: str) -> LimitInterrupt:
        self.expired = True
        self.reason = reason
        return LimitInterrupt(reason)

    def tick(self) -> None:
        """Off the main thread: compiled into loops and functions; reads the clocks every 256 calls."""
        self.count += 1
        if self.expired:
            raise LimitInterrupt(self.reason or self.limits.cpu_text())
        if self.count & 255 == 0:
            if time.thread_time() > self.deadline:
                raise self._strike(self.limits.cpu_text())
            if self.operation is not None and self.operation.passed():
                raise self._strike(self.operation.text)

    def check(self) -> None:
        """At the top of every exception handler and `finally` block of a script: once a limit struck, the
        script cannot catch it and go on. Code of a script that runs after its evaluation ended (a
        function it left in mutable data, called by a later script) may not catch anything either."""
        if self.expired:
            raise LimitInterrupt(self.reason or self.limits.cpu_text())
        if not self.active:
            raise LimitInterrupt("code of a script that has ended may not catch exceptions")

    def ticking_iter(self, obj: Any) -> Iterator[Any]:
        for item in obj:
            self.tick()
            yield item


def _on_cpu_timer(_signum: int, _frame: Any) -> None:
    budget = _current
    if budget is not None and budget.active:
        raise budget._strike(budget.limits.cpu_text())


def _on_sigint(_signum: int, _frame: Any) -> None:
    global _sigints
    _sigints += 1
    raise KeyboardInterrupt


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


def run_limited(limits: Limits, run: Callable[[Budget], Any], *, memory: bool = True) -> Any:
    """Run `run(budget)` (uploaded code) under the CPU limit, the memory cap and the operation's budget:
    the one place where per-evaluation limits are set, and the boundary that turns whatever the code
    raised into an Exception its task can fail with."""
    global _current
    on_main = on_main_thread()
    operation = _operation if on_main else getattr(_local, "operation", None)
    if operation is not None and operation.passed():
        raise ScriptLimitExceeded(operation.text)
    outer = _current if on_main else None
    # Nested (an expression evaluated inside a running script): the outer evaluation's budget and timer.
    armed = on_main and outer is None
    budget = outer if outer is not None else Budget(limits, operation, thread=not on_main)
    capped, held = _cap(limits, operation, memory)
    try:
        if armed:
            _install(signal.SIGPROF, _on_cpu_timer)
            if (
                signal.SIGINT not in _installed
                and signal.getsignal(signal.SIGINT) is signal.default_int_handler
            ):
                _install(signal.SIGINT, _on_sigint)  # the same Ctrl-C, counted
            _current = budget
            # Re-fires every 50 ms after the limit, should the first one land outside the script.
            signal.setitimer(signal.ITIMER_PROF, limits.cpu_seconds, 0.05)
        try:
            return run(budget)
        finally:
            if outer is None:
                budget.active = False
            if armed:
                signal.setitimer(signal.ITIMER_PROF, 0)
                _current = None
    except LimitInterrupt as exc:
        raise ScriptLimitExceeded(str(exc)).with_traceback(exc.__traceback__) from None
    except MemoryError as exc:
        if capped:
            raise ScriptLimitExceeded(limits.memory_text()).with_traceback(exc.__traceback__) from None
        raise
    except Exception:
        raise
    except KeyboardInterrupt as exc:
        if on_main and _sigints != budget.sigints:
            raise  # a real Ctrl-C: the operation stops, nothing is written
        raise _stopped(exc) from None
    except BaseException as exc:  # SystemExit, GeneratorExit, ...: uploaded code never ends the process
        raise _stopped(exc) from None
    finally:
        if capped and not held:
            _address_space.exit()


def _cap(limits: Limits, operation: Operation | None, memory: bool) -> tuple[bool, bool]:
    """Lower the memory cap for an evaluation: (capped, held by the operation rather than this one).

    Inside an operation the cap is lowered once, at its first sandboxed evaluation, to what the process
    uses then plus the cap, and held until the operation ends: reading /proc/self/statm and two
    setrlimit calls per script cost ~15 us, more than a short script (issue 17). It only gets stricter
    for the evaluations after the first (what they and the engine between them keep counts against
    the one cap); the engine's own steps between the scripts allocate little. An evaluation without
    the cap (trusted scripts) releases the operation's first.
    """
    if operation is None:
        return (memory and _address_space.enter(limits.memory_mib * 1024 * 1024)), False
    if not memory:
        _release_cap(operation)
        return False, False
    if operation.capped is None:
        operation.capped = _address_space.enter(limits.memory_mib * 1024 * 1024)
    return operation.capped, True


def _release_cap(operation: Operation) -> None:
    if operation.capped:
        _address_space.exit()
    operation.capped = None


def _stopped(exc: BaseException) -> ScriptStopped:
    detail = f"{type(exc).__name__}" + (f"({exc})" if str(exc) else "")
    stopped = ScriptStopped(f"{detail[:200]}: uploaded code may not stop the process")
    return stopped.with_traceback(exc.__traceback__)
