"""The script environments SpiffWorkflow evaluates every script, condition and expression through."""

from __future__ import annotations

import decimal
from collections.abc import Callable
from copy import deepcopy
from types import ModuleType
from typing import Any

from RestrictedPython.Guards import full_write_guard, guarded_iter_unpack_sequence, guarded_unpack_sequence
from RestrictedPython.PrintCollector import PrintCollector
from SpiffWorkflow.bpmn.script_engine import TaskDataEnvironment

from engine.errors import SetupRequired
from engine.terminal import MAX_MESSAGE_CHARS, printable

from ..script_output import check_expression_value, check_variables
from .guards import Guards, guarded_getattr
from .limits import Budget, Limits, on_main_thread, run_limited
from .names import GUARD_NAMES, SCRIPT_MARK, script_builtins
from .policy import compiled

# Every sandboxed evaluation computes with Python's default decimal context, whatever another thread's
# code or a trusted script did to the thread's own (a precision of millions of digits makes each
# operation slow). Shared, not copied: scripts cannot reach a context object to change it.
_DECIMAL_CONTEXT = decimal.Context()


def _unchanged(copy: Any, original: Any) -> bool:
    try:
        return bool(copy == original)
    except (RecursionError, TypeError, ValueError):  # data that cannot even be compared: look at it
        return False


def _apply(func: Any, *args: Any, **kwargs: Any) -> Any:
    return func(*args, **kwargs)


def _getitem(obj: Any, key: Any) -> Any:
    return obj[key]


def _cut_message(exc: Exception) -> None:
    """What uploaded code raised, its message cut to a bound (SpiffWorkflow copies it into its own error,
    and a message that is not text would make that copy fail)."""
    args = exc.args
    if args and (not isinstance(args[0], str) or len(args[0]) > MAX_MESSAGE_CHARS):
        try:
            text = str(args[0]) if len(args) == 1 else str(exc)
        except Exception:  # noqa: BLE001 - a message that cannot even be shown
            text = "(a message that cannot be shown)"
        exc.args = (printable(text, MAX_MESSAGE_CHARS),)


def run_on_copies(
    context: dict[str, Any], run: Callable[[dict[str, Any]], None], skip: frozenset[str] = frozenset()
) -> None:
    """Run a script (`run(names)`, which leaves in `names` what the task data should hold, and the names
    in `skip`) on a copy of the task data `context`, and write back only what it changed, once it is
    known to be data Handoff can store (engine/runtime/script_output.py).

    Lists and dicts reach the script as copies (one deepcopy, so that values shared between names stay
    shared): a script that fails, or leaves what cannot be stored, changes nothing, not even in place;
    what it changed in place is checked like what it assigned.
    """
    names = dict(context)
    originals = {k: v for k, v in context.items() if type(v) is list or type(v) is dict}
    copies = deepcopy(originals) if originals else originals
    if copies:
        names.update(copies)
    run(names)
    changed: dict[str, Any] = {}
    kept: dict[str, Any] = {}
    for key, value in names.items():
        if key in skip:
            continue
        if copies and key in copies and value is copies[key]:
            if _unchanged(value, originals[key]):
                kept[key] = value  # counts towards the size of all data, like the original
                continue
        elif context.get(key, names) is value:
            continue
        changed[key] = value
    check_variables(changed, kept)
    for key in [k for k in context if k not in names]:  # names the script deleted
        del context[key]
    for key, value in changed.items():
        if callable(value):  # as SpiffWorkflow: functions a script defines do not stay in the data
            context.pop(key, None)
        else:
            context[key] = value


class SandboxEnvironment(TaskDataEnvironment):  # type: ignore[misc]
    """Scripts and expressions through RestrictedPython, under the limits (the default)."""

    def __init__(self, limits: Limits) -> None:
        super().__init__({})
        self.limits = limits
        guards = Guards(limits)
        # The guards RestrictedPython's compiled code calls live with the builtins, where a global name
        # falls back to: a script cannot name them (they start with `_`), and each evaluation's namespace
        # holds only the data and the three names that belong to the evaluation.
        builtins = script_builtins(guards)
        builtins.update(
            {
                "_getattr_": guarded_getattr,
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
            }
        )
        self._builtins = builtins

    def _namespace(self, base: dict[str, Any], budget: Budget, thread: bool) -> dict[str, Any]:
        base["__builtins__"] = self._builtins
        base["_sandbox_"] = SCRIPT_MARK
        base["_check_"] = budget.check
        if thread:
            base["_tick_"] = budget.tick
            base["_getiter_"] = budget.ticking_iter
        return base

    def _run(self, code: Any, names: dict[str, Any], thread: bool, mode: str) -> Any:
        def run(budget: Budget) -> Any:
            saved = decimal.getcontext()
            decimal.setcontext(_DECIMAL_CONTEXT)
            try:
                if mode == "eval":
                    return eval(code, self._namespace(names, budget, thread))
                exec(code, self._namespace(names, budget, thread))
                return names
            except Exception as exc:
                _cut_message(exc)
                raise
            finally:
                decimal.setcontext(saved)

        return run_limited(self.limits, run)

    def evaluate(
        self, expression: str, context: dict[str, Any], external_context: dict[str, Any] | None = None
    ) -> Any:
        thread = not on_main_thread()
        code = compiled(expression, "eval", thread)
        names = dict(external_context) if external_context else {}
        names.update(context)
        return check_expression_value(self._run(code, names, thread, "eval"))

    def execute(
        self, script: str, context: dict[str, Any], external_context: dict[str, Any] | None = None
    ) -> bool:
        external = external_context or {}
        self.check_for_overwrite(context, external)
        thread = not on_main_thread()
        code = compiled(script, "exec", thread)

        def run(names: dict[str, Any]) -> None:
            if external:
                names.update(external)
            self._run(code, names, thread, "exec")
            for key in external:
                names.pop(key, None)

        run_on_copies(context, run, GUARD_NAMES)
        return True


class TrustedEnvironment(TaskDataEnvironment):  # type: ignore[misc]
    """SpiffWorkflow's full Python for trusted deployments, under the CPU limit and the operation's
    budget (no memory cap: native libraries a trusted script imports may reserve address space far
    beyond what they use)."""

    def __init__(self, limits: Limits) -> None:
        super().__init__({})
        self.limits = limits

    def _guarded(self, run: Any) -> Any:
        def limited(_budget: Budget) -> Any:
            try:
                return run()
            except Exception as exc:
                _cut_message(exc)
                raise

        return run_limited(self.limits, limited, memory=False)

    def evaluate(
        self, expression: str, context: dict[str, Any], external_context: dict[str, Any] | None = None
    ) -> Any:
        return check_expression_value(
            self._guarded(
                lambda: super(TrustedEnvironment, self).evaluate(expression, context, external_context)
            )
        )

    def execute(
        self, script: str, context: dict[str, Any], external_context: dict[str, Any] | None = None
    ) -> bool:
        def run(names: dict[str, Any]) -> None:
            self._guarded(lambda: super(TrustedEnvironment, self).execute(script, names, external_context))
            # Imported modules are not data: they would stop the instance's state from serializing.
            for key in [k for k, v in names.items() if isinstance(v, ModuleType)]:
                del names[key]

        run_on_copies(context, run)
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
