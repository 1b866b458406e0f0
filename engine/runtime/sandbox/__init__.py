"""The script sandbox: how Handoff runs the Python that uploaded BPMN carries (docs/security.md).

SpiffWorkflow evaluates every script task, pre/post script, gateway condition, timer expression,
multi-instance expression and DMN cell through its script engine's *environment*. Handoff replaces that
environment:

- `SandboxEnvironment` (the default) compiles each text with RestrictedPython under Handoff's policy
  (`policy.py`): no imports, no names or attributes starting with `_`, no frame/code/traceback
  attributes, no `str.format`, no `open`/`exec`/`eval`/`compile`, no classes, no `with`, no generator
  functions; size guards on the operations one bytecode can run for seconds (`guards.py`); names from the
  task data and a small set of builtins and helpers (`names.py`). Each evaluation has a CPU-time limit
  and a memory cap, each operation a wall-clock budget (`limits.py`), and what a script assigns must be
  data Handoff can store (engine/runtime/script_output.py).
- `TrustedEnvironment` (`handoff deploy --trusted-scripts`) is SpiffWorkflow's own full Python, under the
  CPU limit and the operation's budget, so that a runaway loop or a blocked call cannot hold a worker.

Whatever uploaded code raises ends as a failure of its task (an incident), never the process's exit.
"""

from .environments import SandboxEnvironment, TrustedEnvironment, configure, current_limits, environment
from .errors import (
    LimitInterrupt,
    OperationTimeout,
    ScriptLimitExceeded,
    ScriptNotAllowed,
    ScriptRefused,
    ScriptStopped,
)
from .guards import MAX_DECIMAL_INT_DIGITS, MAX_INT_BITS, MAX_MODPOW_BITS, MAX_RANGE
from .limits import (
    CPU_SECONDS_ENV,
    MEMORY_MIB_ENV,
    OPERATION_SECONDS_ENV,
    Limits,
    check_operation,
    operation_budget,
    run_limited,
)
from .policy import check_compiles

__all__ = [
    "CPU_SECONDS_ENV",
    "MAX_DECIMAL_INT_DIGITS",
    "MAX_INT_BITS",
    "MAX_MODPOW_BITS",
    "MAX_RANGE",
    "MEMORY_MIB_ENV",
    "OPERATION_SECONDS_ENV",
    "LimitInterrupt",
    "Limits",
    "OperationTimeout",
    "SandboxEnvironment",
    "ScriptLimitExceeded",
    "ScriptNotAllowed",
    "ScriptRefused",
    "ScriptStopped",
    "TrustedEnvironment",
    "check_compiles",
    "check_operation",
    "configure",
    "current_limits",
    "environment",
    "operation_budget",
    "run_limited",
]
