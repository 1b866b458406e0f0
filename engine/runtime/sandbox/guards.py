"""Size guards: the C-level operations that one bytecode can run for seconds, past any signal.

Python checks for signals only between bytecodes, so one long C call overruns the CPU limit by its own
duration. The guards refuse, before computing anything, the operations whose cost grows faster than
their input, and the few ways to make an input that large:
- integer `*`, `**`, `<<` beyond `MAX_INT_BITS` (a product at the bound takes ~10 ms; at 2**24 bits one
  multiplication runs for seconds), `//`, `%`, `divmod` with an operand beyond it (quadratic in C),
  `pow(a, b, m)` beyond `MAX_MODPOW_BITS`, strings, bytes, lists and tuples repeated beyond the memory cap;
- the ways to an integer beyond `MAX_INT_BITS` that no operator guards: `int(text, base)` in a power-of-two
  base (`int('f' * 800000, 16)`), `int.from_bytes`, and a `Decimal` turned into an integer (`int()`,
  `round()`, `'%d' %`, `as_integer_ratio()`), which is quadratic in its digits (`int(Decimal('1e1000000'))`
  ran 48 s). With every integer within the bound, what consumes one stays short: `Decimal(i)`, also
  implicit in `Decimal(1) + i` (~0.1 s at the bound; 23 s at 400,000 bytes);
- `round(i, -n)`, which computes 10**n (`round(1, -3*10**7)` ran 5.7 s);
- `range()` beyond `MAX_RANGE` numbers.
`str(i)` of a huge integer is refused by Python itself beyond 4,300 digits (`sys.int_max_str_digits`).
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

from RestrictedPython.Guards import safer_getattr_raise
from RestrictedPython.transformer import INSPECT_ATTRIBUTES

from .errors import ScriptLimitExceeded
from .limits import Limits

MAX_INT_BITS = 1 << 18  # ~79,000 decimal digits
MAX_MODPOW_BITS = 4096  # pow(a, b, m): exponent and modulus (RSA sizes); ~0.15 s at the bound
MAX_RANGE = 10_000_000  # sum(range(MAX_RANGE)) is one C call of ~0.1 s
# Decimal -> int is quadratic in the digits: ~25 ms at 20,000 digits, 0.4 s at 79,000, 8 s at 400,000.
MAX_DECIMAL_INT_DIGITS = 20_000
MAX_ROUND_DIGITS = 78_000  # round(i, -n) computes 10**n: within MAX_INT_BITS
_SEQUENCES = (str, bytes, list, tuple)


def int_too_big() -> ScriptLimitExceeded:
    return ScriptLimitExceeded(f"the script computed an integer of more than {MAX_INT_BITS} bits")


def check_decimal_to_int(value: Any) -> None:
    """A Decimal whose integer part has more digits than Handoff converts to an integer."""
    if isinstance(value, Decimal) and value.is_finite() and value.adjusted() >= MAX_DECIMAL_INT_DIGITS:
        raise ScriptLimitExceeded(
            f"the script turned a Decimal of more than {MAX_DECIMAL_INT_DIGITS:,} digits into an integer"
        )


class Guards:
    """The operator guards RestrictedPython's compiled code calls, bound to one set of limits."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.max_bytes = limits.memory_mib * 1024 * 1024 if limits.memory_mib else None

    def check_product(self, a: Any, b: Any) -> None:
        ta, tb = type(a), type(b)
        if ta is int and tb is int:
            if a.bit_length() + b.bit_length() > MAX_INT_BITS:
                raise int_too_big()
        elif self.max_bytes is not None:
            if isinstance(a, _SEQUENCES) and isinstance(b, int):
                self._check_repeat(a, b)
            elif isinstance(b, _SEQUENCES) and isinstance(a, int):
                self._check_repeat(b, a)

    def _check_repeat(self, seq: Any, n: int) -> None:
        width = 8 if isinstance(seq, (list, tuple)) else 1  # a pointer per item; a byte per character
        if n > 0 and len(seq) * n * width > (self.max_bytes or 0):
            raise ScriptLimitExceeded(self.limits.memory_text())

    def mul(self, a: Any, b: Any) -> Any:
        self.check_product(a, b)
        return a * b

    @staticmethod
    def check_power(a: Any, b: Any, modulus: Any = None) -> None:
        if not (isinstance(a, int) and isinstance(b, int)):
            return
        if modulus is not None:
            if isinstance(modulus, int) and max(b.bit_length(), modulus.bit_length()) > MAX_MODPOW_BITS:
                raise ScriptLimitExceeded(
                    f"pow() with an exponent or modulus of more than {MAX_MODPOW_BITS} bits"
                )
            return
        if b > 0 and abs(a) > 1 and a.bit_length() * b > MAX_INT_BITS:
            raise int_too_big()

    def pow(self, a: Any, b: Any, modulus: Any = None) -> Any:
        self.check_power(a, b, modulus)
        return pow(a, b) if modulus is None else pow(a, b, modulus)

    @staticmethod
    def check_division(a: Any, b: Any) -> None:
        """Integer division is quadratic in C: huge operands must not reach it. `%` on a string is
        formatting: `'%d' % Decimal(...)` turns the Decimal into an integer."""
        ta = type(a)
        if ta is int and type(b) is int:
            if max(a.bit_length(), b.bit_length()) > MAX_INT_BITS and b.bit_length() > 64:
                raise ScriptLimitExceeded(f"the script divided integers of more than {MAX_INT_BITS} bits")
        elif ta is str or ta is bytes:
            values = b.values() if isinstance(b, dict) else (b if isinstance(b, tuple) else (b,))
            for value in values:
                check_decimal_to_int(value)

    def floordiv(self, a: Any, b: Any) -> Any:
        self.check_division(a, b)
        return a // b

    def mod(self, a: Any, b: Any) -> Any:
        self.check_division(a, b)
        return a % b

    def divmod(self, a: Any, b: Any) -> Any:
        self.check_division(a, b)
        return divmod(a, b)

    @staticmethod
    def lshift(a: Any, b: Any) -> Any:
        if isinstance(a, int) and isinstance(b, int) and a and a.bit_length() + b > MAX_INT_BITS:
            raise int_too_big()
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


# --- making integers --------------------------------------------------------------------------------


def _from_bytes(make: Callable[..., Any]) -> Callable[..., Any]:
    def from_bytes(data: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            size = len(data)
        except TypeError:  # an iterable of byte values: made into bytes first, at a linear cost
            data = bytes(data)
            size = len(data)
        if size * 8 > MAX_INT_BITS:
            raise int_too_big()
        return make(data, *args, **kwargs)

    return from_bytes


def _as_integer_ratio(value: Decimal) -> Callable[[], tuple[int, int]]:
    def as_integer_ratio() -> tuple[int, int]:
        if value.is_finite():
            _sign, digits, exponent = value.as_tuple()
            if len(digits) + abs(int(exponent)) > MAX_DECIMAL_INT_DIGITS:
                raise ScriptLimitExceeded(
                    f"the script turned a Decimal of more than {MAX_DECIMAL_INT_DIGITS:,} digits into integers"
                )
        return value.as_integer_ratio()

    return as_integer_ratio


def guarded_getattr(obj: Any, name: str) -> Any:
    """RestrictedPython's attribute guard, and the integer makers no operator guards."""
    if name == "from_bytes" and (isinstance(obj, int) or obj is int or obj is bool or obj is GuardedInt):
        return _from_bytes(int.from_bytes if obj is GuardedInt else obj.from_bytes)
    if name == "as_integer_ratio" and isinstance(obj, Decimal):
        return _as_integer_ratio(obj)
    return safer_getattr_raise(obj, name)


def checked_int(*args: Any, **kwargs: Any) -> int:
    """int() of text in a power-of-two base is linear, and so makes integers of any size; of a Decimal,
    quadratic in its digits."""
    if args:
        value = args[0]
        if isinstance(value, Decimal):
            check_decimal_to_int(value)
        elif isinstance(value, (str, bytes, bytearray)) and len(value) * 5 > MAX_INT_BITS:
            base = args[1] if len(args) > 1 else kwargs.get("base", 10)
            if base != 10:  # base 10 is refused by Python itself beyond 4,300 digits
                raise int_too_big()
    return int(*args, **kwargs)


class _IntType(type):
    """`int` for scripts: calls go through `checked_int`; it is `int` for isinstance, ==, and repr."""

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        return checked_int(*args, **kwargs)

    def __instancecheck__(cls, obj: Any) -> bool:
        return isinstance(obj, int)

    def __subclasscheck__(cls, sub: Any) -> bool:
        return issubclass(sub, int)

    def __getattr__(cls, name: str) -> Any:
        return getattr(int, name)

    def __eq__(cls, other: Any) -> bool:
        return other is int or other is cls

    def __hash__(cls) -> int:
        return hash(int)

    def __repr__(cls) -> str:
        return "<class 'int'>"


class GuardedInt(metaclass=_IntType):
    """The name `int` in scripts (the metaclass says how it behaves)."""


def guarded_round(number: Any, ndigits: Any = None) -> Any:
    if ndigits is None:
        check_decimal_to_int(number)
    elif isinstance(number, int) and isinstance(ndigits, int) and ndigits < -MAX_ROUND_DIGITS:
        raise int_too_big()
    return round(number, ndigits)


# --- other guarded builtins -------------------------------------------------------------------------


def guarded_getattr_builtin(obj: Any, name: str, *default: Any) -> Any:
    """`getattr()` in scripts: the attribute guard, and a default only for names it would allow."""
    if len(default) > 1:
        raise TypeError("getattr expected at most 3 arguments")
    try:
        return guarded_getattr(obj, name)
    except AttributeError:
        if default and not name.startswith("_") and name not in INSPECT_ATTRIBUTES:
            return default[0]
        raise


def guarded_hasattr(obj: Any, name: str) -> bool:
    try:
        guarded_getattr(obj, name)
    except AttributeError:
        return False
    return True


def guarded_iter(obj: Any) -> Iterator[Any]:
    return iter(obj)  # one argument only: iter(callable, sentinel) is an endless loop in C


def guarded_range(*args: int) -> range:
    numbers = range(*args)
    try:
        size = len(numbers)
    except OverflowError:
        size = MAX_RANGE + 1
    if size > MAX_RANGE:
        raise ScriptLimitExceeded(f"range() of more than {MAX_RANGE:,} numbers")
    return numbers
