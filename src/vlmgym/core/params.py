"""Typed, bounded options: the one way vlmgym validates keyword arguments.

The engine, both envs and every game's constructor check their options with these helpers, so
every knob is typed the same way and every size, count and batch knob has an upper bound that is
checked *before* anything is allocated. Each raises ``ValueError`` naming the option, what is
allowed and what it got; nothing is coerced silently (``"False"`` is not a bool, ``2.0`` is not an
integer, ``True`` is not 1). A game of your own should use them too::

    from vlmgym.core import params

    class MyGame(vlmgym.Game):
        def __init__(self, rows: int = 5, cols: int = 5, wrap: bool = False):
            self.rows = params.integer("rows", rows, 2, 16)
            self.cols = params.integer("cols", cols, 2, 16)
            self.wrap = params.boolean("wrap", wrap)

Command lines pass values as JSON (``--env-arg wrap=false``); a value that is not JSON arrives as
a string, and the error then says how to write it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

import numpy as np

__all__ = ["boolean", "check_memory", "choice", "format_bytes", "integer", "optional_boolean", "size_pair"]

T = TypeVar("T")

_BOOL_WORDS = {"true", "false", "yes", "no", "on", "off", "0", "1"}


def _got(value: Any) -> str:
    text = repr(value)
    if len(text) > 80:
        text = text[:77] + "..."
    return f"{text} ({type(value).__name__})"


def integer(name: str, value: Any, low: int, high: int | None = None) -> int:
    """``value`` as an ``int`` in ``low..high`` (``high=None``: no upper bound).

    Python and NumPy integers are accepted; ``bool``, floats (even ``2.0``) and strings are not.
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) \
            or value < low or (high is not None and value > high):
        allowed = f">= {low}" if high is None else f"from {low} to {high}"
        hint = _cli_hint(name, value, "a number, e.g. 4")
        raise ValueError(f"{name} must be an integer {allowed}, got {value!r}{hint}")
    return int(value)


def boolean(name: str, value: Any) -> bool:
    """``value`` as a ``bool``: only ``True``/``False`` (and NumPy bools), never a string or number."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    hint = _cli_hint(name, value, f"{name}=true or {name}=false")
    raise ValueError(f"{name} must be True or False, got {_got(value)}{hint}")


def optional_boolean(name: str, value: Any) -> bool | None:
    """Like :func:`boolean`, but ``None`` (meaning "the default") is allowed too."""
    return None if value is None else boolean(name, value)


def choice(name: str, value: Any, allowed: Sequence[T]) -> T:
    """``value`` if it is one of ``allowed`` (compared by equality), else ``ValueError`` listing them."""
    try:
        ok = any(isinstance(value, type(a)) and bool(value == a) for a in allowed)
    except Exception:  # an exotic value whose == raises is not one of the allowed values
        ok = False
    if not ok:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, allowed))}; got {value!r}")
    return value  # type: ignore[no-any-return]


def size_pair(name: str, value: Any, low: int, high: int) -> tuple[int, int]:
    """``value`` as a pair of integers, each in ``low..high`` (a tuple or list of two)."""
    if (not isinstance(value, (tuple, list)) or len(value) != 2
            or any(isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)) for v in value)):
        raise ValueError(f"{name} must be a pair of integers (width, height), got {_got(value)}")
    if not all(low <= v <= high for v in value):
        raise ValueError(f"{name} must have both sides from {low} to {high} pixels, got {tuple(int(v) for v in value)}")
    return int(value[0]), int(value[1])


def format_bytes(n: float) -> str:
    """``n`` bytes in the largest binary unit that keeps it at least 1 (``"1.5 GiB"``)."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(n) < 1024 or unit == "PiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")


def check_memory(what: str, nbytes: int, limit: int, advice: str) -> None:
    """Refuse, before allocating, something that would need more than ``limit`` bytes."""
    if nbytes > limit:
        raise ValueError(f"{what} would need about {format_bytes(nbytes)}, more than the limit of "
                         f"{format_bytes(limit)}; {advice}")


def _cli_hint(name: str, value: Any, how: str) -> str:
    """For a string that looks like what was meant: how to write it on a command line."""
    if isinstance(value, str) and (value.strip().lower() in _BOOL_WORDS or value.strip().lstrip("-").isdigit()):
        return f" (a string; command-line values are JSON: write {how})"
    return ""
