"""Readable restatements of the action codecs' answer grammars (test oracles).

Each reads the inside of an answer block the slow way, one character at a time: classify every
character, group the characters that belong together into runs, decide what each run is, then
apply the grammar's rule to that token list. The grammar is the one of ``docs/robustness.md``
("Answer grammar"):

* letters and digits of any script, ``_``, combining marks and invisible format characters belong
  to a run; a full stop (of any script, or a middle dot) between two run characters does too;
* a run of ASCII letters is a word; a run of ASCII digits is a number, negative when a dash or
  minus sign stands directly before it; a run holding any other digit, or digits after a full
  stop, is "not a plain number" (the answer is unparsable); other runs are ignored.
"""

from __future__ import annotations

import string
import unicodedata

CAP = 10**6  # numbers longer than six digits read as one million (out of every board)
BAD = object()  # a run that is numeric but not a plain non-negative integer


def kind(ch: str) -> str:
    """'letter', 'digit' (ASCII), 'other' (a run character that is neither), 'minus', 'point', 'space'."""
    if ch in string.ascii_letters:
        return "letter"
    if ch in string.digits:
        return "digit"
    if ch == "_":
        return "other"
    if ch == "-":
        return "minus"
    if ch == ".":
        return "point"
    if ch.isascii():
        return "space"
    if ch.isnumeric():
        return "foreign digit"
    name = unicodedata.name(ch, "")
    if unicodedata.category(ch) == "Pd" or "MINUS" in name:
        return "minus"
    if "FULL STOP" in name or "DECIMAL SEPARATOR" in name or ch in "\u00b7\u0387\u2024\u2027":
        return "point"
    if unicodedata.category(ch)[0] in "LM" or unicodedata.category(ch) in ("Cf", "Cs", "Co", "Cn"):
        return "other"
    return "space"


_IN_RUN = ("letter", "digit", "other", "foreign digit")


def tokens(content: str) -> list:
    """Words (lower case), ints, and BAD for runs that are numeric but not plain."""
    kinds = [kind(ch) for ch in content]
    out: list = []
    i = 0
    while i < len(content):
        if kinds[i] not in _IN_RUN:
            i += 1
            continue
        j = i
        while j < len(content):  # extend the run; a point joins two run characters
            joins = kinds[j] == "point" and j > i and j + 1 < len(content) and kinds[j + 1] in _IN_RUN
            if kinds[j] in _IN_RUN or joins:
                j += 1
            else:
                break
        run, run_kinds = content[i:j], kinds[i:j]
        before = kinds[i - 1] if i > 0 else "space"
        if all(k == "letter" for k in run_kinds):
            out.append(run.lower())
        elif all(k == "digit" for k in run_kinds) and before != "point":
            value = CAP if len(run) > 6 else int(run)
            out.append(-value if before == "minus" else value)
        elif any(k in ("digit", "foreign digit") for k in run_kinds):
            out.append(BAD)
        i = j
    return out


def pair(content: str):
    """((r1, c1), (r2, c2)) or None: exactly four numbers, nothing numeric that is not plain."""
    toks = tokens(content)
    if any(t is BAD for t in toks):
        return None
    numbers = [t for t in toks if isinstance(t, int)]
    if len(numbers) != 4:
        return None
    return ((numbers[0], numbers[1]), (numbers[2], numbers[3]))


def cell(content: str, verbs: tuple[str, ...], default_verb: str | None):
    """(r, c) / (verb, (r, c)) or None: exactly two numbers, at most one distinct verb."""
    toks = tokens(content)
    numbers = [t for t in toks if isinstance(t, int)]
    named = {t for t in toks if isinstance(t, str) and t in verbs}
    if any(t is BAD for t in toks) or len(numbers) != 2 or len(named) > 1:
        return None
    where = (numbers[0], numbers[1])
    if not verbs:
        return where
    verb = named.pop() if named else default_verb
    return None if verb is None else (verb, where)


def direction(content: str, names: tuple[str, ...]):
    """The index of the one direction named (a word or a number in range), or None."""
    found = set()
    for t in tokens(content):
        if t is BAD:
            return None
        if isinstance(t, int):
            if not 0 <= t < len(names):
                return None
            found.add(t)
        elif t in names:
            found.add(names.index(t))
    return found.pop() if len(found) == 1 else None
