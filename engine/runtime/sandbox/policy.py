"""What the sandbox compiles: RestrictedPython's policy, plus Handoff's refusals and compiled-in checks.

RestrictedPython already refuses names and attributes starting with `_`, the frame, code and traceback
attributes, `str.format`, `exec`/`eval`, `nonlocal`, async code and `except*`. Handoff adds:
- no `import` and no `class` statements;
- no `with` statement: a context manager's `__exit__` may swallow any exception, the limits' included;
- no `yield` (generator functions): a generator left in the data runs its `finally` and `except`
  blocks whenever it is garbage-collected, after its evaluation ended and outside every limit;
- size guards: `*`, `**`, `<<`, `//` and `%` compile to calls that refuse results beyond the limits;
- `_check_()` at the top of every exception handler and `finally` block, which re-raises once a limit
  struck: `try/finally: continue`, `def f(): try: f() finally: f()` and `except BaseException` cannot
  keep a script running past its limit;
- off the main thread (`ticks`), `_tick_()` in every loop body, function and lambda.
"""

from __future__ import annotations

import ast
from functools import lru_cache
from types import CodeType
from typing import Any

from RestrictedPython import compile_restricted_eval, compile_restricted_exec
from RestrictedPython.transformer import RestrictingNodeTransformer

from .errors import ScriptNotAllowed

NO_IMPORT = (
    "import statements are not allowed in the script sandbox (deploy with --trusted-scripts to import)"
)
NO_WITH = "with statements are not allowed in the script sandbox (a context manager can swallow its limits)"
NO_YIELD = (
    "generator functions (yield) are not allowed in the script sandbox: their code could run after the "
    "script ended; use a list or a generator expression"
)

GUARDED_OPERATORS: dict[type[ast.operator], str] = {
    ast.Mult: "_mul_",
    ast.Pow: "_pow_",
    ast.LShift: "_lshift_",
    ast.FloorDiv: "_floordiv_",
    ast.Mod: "_mod_",
}


def _call(name: str, *args: ast.expr) -> ast.Call:
    return ast.Call(func=ast.Name(name, ast.Load()), args=list(args), keywords=[])


def _at(new: Any, old: ast.AST) -> Any:
    """`new` and every node inside it without a position take `old`'s (compile() needs them)."""
    for node in ast.walk(new):
        if "lineno" in node._attributes and not hasattr(node, "lineno"):
            ast.copy_location(node, old)
    return new


class Policy(RestrictingNodeTransformer):
    """RestrictedPython's policy with Handoff's additions (the module docstring)."""

    ticks = False

    def visit_Import(self, node: ast.Import) -> Any:
        self.error(node, NO_IMPORT)
        return node

    def visit_ImportFrom(self, node: ast.ImportFrom) -> Any:
        self.error(node, NO_IMPORT)
        return node

    def visit_ClassDef(self, node: ast.ClassDef) -> Any:
        self.error(node, "class statements are not allowed")
        return node

    def visit_With(self, node: ast.With) -> Any:
        self.error(node, NO_WITH)
        return node

    def visit_Yield(self, node: ast.Yield) -> Any:
        self.error(node, NO_YIELD)
        return node

    def visit_YieldFrom(self, node: ast.YieldFrom) -> Any:
        self.error(node, NO_YIELD)
        return node

    def visit_BinOp(self, node: ast.BinOp) -> Any:
        node = self.node_contents_visit(node)
        guard = GUARDED_OPERATORS.get(type(node.op))
        if guard is None:
            return node
        return _at(_call(guard, node.left, node.right), node)

    def visit_Try(self, node: ast.Try) -> Any:
        node = self.node_contents_visit(node)
        if node.finalbody:
            node.finalbody.insert(0, _at(ast.Expr(_call("_check_")), node.finalbody[0]))
        return node

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


class TickingPolicy(Policy):
    ticks = True


@lru_cache(maxsize=4096)
def compiled(source: str, mode: str, ticks: bool) -> CodeType:
    """Compiled once per text (RestrictedPython's transform costs ~100x a run of a short script)."""
    policy = TickingPolicy if ticks else Policy
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


def check_compiles(source: str, mode: str, *, trusted: bool = False) -> tuple[int, str] | None:
    """None when `source` compiles as the sandbox (or, `trusted`, plain Python) will compile it at run
    time; else (its line, one short line saying why), for `handoff validate` and `deploy`."""
    try:
        if trusted:
            compile(source, "<string>", mode)
        else:
            compiled(source, mode, False)
    except ScriptNotAllowed as exc:
        return getattr(exc, "lineno", 0) or 0, _short(str(exc))
    except SyntaxError as exc:
        return exc.lineno or 0, _short(f"SyntaxError: {exc.msg}")
    except (RecursionError, MemoryError):
        # Python's compiler gives up on very deep nesting: so would the run, so say it now.
        return 0, "it is nested too deeply to compile"
    except ValueError as exc:  # a NUL byte in the source
        return 0, _short(f"it cannot be compiled ({exc})")
    return None


def _short(message: str, limit: int = 300) -> str:
    """A compiler's message quotes the statement: cut it so one problem stays one readable line."""
    return message if len(message) <= limit else message[: limit - 30] + f"... ({len(message):,} characters)"
