"""Readable restatements of the action codecs' answer grammars (test oracles).

Each reads the inside of an answer block the slow way: split it into words (runs of ASCII
letters) and numbers (runs of ASCII digits, with a directly preceding ``-`` as a sign), then apply
the grammar's rule to that token list.
"""

from __future__ import annotations

CAP = 10**6  # numbers longer than six digits read as one million (out of every board)


def tokens(content: str) -> list[str | int]:
    out: list[str | int] = []
    i = 0
    while i < len(content):
        ch = content[i]
        if ch.isascii() and ch.isalpha():
            j = i
            while j < len(content) and content[j].isascii() and content[j].isalpha():
                j += 1
            out.append(content[i:j].lower())
            i = j
        elif (ch.isascii() and ch.isdigit()) or (ch == "-" and i + 1 < len(content) and content[i + 1].isascii()
                                                 and content[i + 1].isdigit()):
            sign = -1 if ch == "-" else 1
            j = i + 1 if ch == "-" else i
            k = j
            while k < len(content) and content[k].isascii() and content[k].isdigit():
                k += 1
            digits = content[j:k]
            out.append(sign * (CAP if len(digits) > 6 else int(digits)))
            i = k
        else:
            i += 1
    return out


def cell(content: str, verbs: tuple[str, ...], default_verb: str | None):
    """(r, c) / (verb, (r, c)) or None: exactly two numbers, at most one distinct verb."""
    toks = tokens(content)
    numbers = [t for t in toks if isinstance(t, int)]
    named = {t for t in toks if isinstance(t, str) and t in verbs}
    if len(numbers) != 2 or len(named) > 1:
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
        if isinstance(t, int):
            if not 0 <= t < len(names):
                return None
            found.add(t)
        elif t in names:
            found.add(names.index(t))
    return found.pop() if len(found) == 1 else None
