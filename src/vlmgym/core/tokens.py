"""The one tokenizer of answer text: words, plain numbers, and numbers that are not plain.

Every action codec (:mod:`vlmgym.core.actions`) reads the inside of an ``<answer>`` block through
:func:`answer_tokens`, so the number grammar is defined here once. In reinforcement learning the
parser is part of the reward: a lenient one is a reward-hacking surface (a model that writes
``(−1, 2)`` with a Unicode minus, or ``(1.2, 1.3)``, must not be paid for a move it did not
spell). The grammar, written out in ``docs/robustness.md``:

* A **run** is a maximal sequence of letters and digits of any script, ``_``, combining marks and
  invisible format characters (zero-width space and joiner, soft hyphen, bidi controls...), where
  a ``.`` between two such characters also belongs to the run (``1.2``, ``e.g``).
* A run of ASCII letters only is a **word** (compared case-insensitively).
* A run of ASCII digits ``0``-``9`` only is a **number**: a plain non-negative integer (leading
  zeros allowed; more than six digits read as 1,000,000, outside every board, so ``int()`` never
  sees a huge string). A minus sign directly before it (``-``, or any other dash or minus: U+2212,
  U+FF0D, U+FE63, U+2013, U+207B, ``±``, ...) makes it negative, hence off every board.
* Any other run that holds a digit of any script is **not a plain number** (:data:`BAD`): a
  decimal (``1.2``, ``.5``; the full stops of other scripts and the middle dot count as decimal
  points), an exponent or hexadecimal (``1e3``, ``0x1F``), digits of other scripts (``１``,
  ``٣``, ``²``, ``½``, ``三``), digits glued to letters, marks or invisible characters (``1st``,
  ``r1``, ``1\u200b2``), ``1_000``. A codec refuses an answer holding one: it is unparsable, never
  read as a different number.
* Every other character separates: spaces of any kind, punctuation (``,`` always separates: there
  are no thousands separators), brackets of any width (``（1，2）`` reads as ``(1, 2)``), symbols
  and emoji; ``+`` too, so ``+1`` is 1.

Linear time, never raises for a ``str``: one ``str.translate`` maps every character to a class
(only for text that is not plain ASCII), then one regular expression without nested quantifiers
splits it.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator

__all__ = ["BAD", "MAX_DIGITS", "NUMBER", "OUT_OF_RANGE", "WORD", "answer_tokens"]

#: Token kinds yielded by :func:`answer_tokens`.
WORD, NUMBER, BAD = "word", "number", "bad"
#: Numbers with more digits than this are read as :data:`OUT_OF_RANGE` (outside every board).
MAX_DIGITS = 6
OUT_OF_RANGE = 10**MAX_DIGITS

# Classes of the normalised text: ASCII letters, digits, '_', '.', '-' stand for themselves;
# _GLUE for a non-ASCII letter, mark or format character, _DIGIT for a digit of another script;
# everything else becomes a space.
_GLUE, _DIGIT = "\x01", "\x02"
_RUN = re.compile(r"(-?)(\.?)([A-Za-z0-9_\x01\x02]+(?:\.[A-Za-z0-9_\x01\x02]+)*)")
_HAS_DIGIT = re.compile(r"[0-9\x02]")
_EXTRA_POINTS = frozenset("\u00b7\u0387\u2024\u2027")  # middle dots and leaders used as decimal points


def _char_class(cp: int) -> str:
    ch = chr(cp)
    if cp < 128:
        return " " if ch in (_GLUE, _DIGIT) else ch
    if ch.isnumeric():
        return _DIGIT
    category = unicodedata.category(ch)
    name = unicodedata.name(ch, "")
    if category == "Pd" or "MINUS" in name:
        return "-"
    if "FULL STOP" in name or "DECIMAL SEPARATOR" in name or ch in _EXTRA_POINTS:
        return "."
    if category[0] in "LM" or category in ("Cf", "Cs", "Co", "Cn"):
        return _GLUE
    return " "


class _Classes(dict[int, str]):
    """``str.translate`` table, filled on first sight of each character (bounded)."""

    _LIMIT = 1 << 16

    def __missing__(self, cp: int) -> str:
        cls = _char_class(cp)
        if len(self) < self._LIMIT:
            self[cp] = cls
        return cls


_CLASSES = _Classes()


def _normalise(content: str) -> str:
    """``content`` with every character replaced by its class (same length, same positions)."""
    if content.isascii() and _GLUE not in content and _DIGIT not in content:
        return content
    return content.translate(_CLASSES)


def answer_tokens(content: str) -> Iterator[tuple[str, str | int, str]]:
    """The tokens of answer text, left to right: ``(kind, value, text)``.

    ``kind`` is :data:`WORD` (``value``: the word in lower case), :data:`NUMBER` (``value``: the
    integer, negative after a minus sign) or :data:`BAD` (``value``: the offending text, at most
    12 characters, as written). ``text`` is the token as written, sign included. Runs of other
    letters (``café``, ``snake_case``) are skipped. Consumers may stop early.
    """
    norm = _normalise(content)
    if norm is content:  # plain ASCII: a token is written exactly as matched (findall is faster)
        runs: Iterator[tuple[str, str, str, str]] = ((s, p, b, s + p + b) for s, p, b in _RUN.findall(content))
    else:
        runs = ((m.group(1), m.group(2), m.group(3), content[m.start():m.end()]) for m in _RUN.finditer(norm))
    for sign, point, body, text in runs:
        if body.isalpha():  # ASCII letters only (everything else is a class character)
            yield WORD, body.lower(), text[len(sign) + len(point):]
        elif body.isdigit() and not point:  # ASCII digits only
            value = OUT_OF_RANGE if len(body) > MAX_DIGITS else int(body)
            yield NUMBER, -value if sign else value, text
        elif _HAS_DIGIT.search(body):  # a decimal, a digit of another script, digits glued to letters
            yield BAD, text[:12], text
