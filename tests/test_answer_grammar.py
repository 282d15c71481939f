"""Model text is never read as a move it does not spell (issue 11, "hostile model text").

Answers come from a grammar of near-misses: an intended action written in one of the accepted
forms, then some of its numbers rewritten. A benign rewrite (a leading zero, ``+``, a sentence's
full stop) must still give exactly the intended action; a minus sign of any script must give the
intended action with that number negated (off the board, so the game calls the move illegal);
anything else numeric that is not a plain non-negative ASCII integer (decimals, exponents,
digits of other scripts, digits glued to letters, marks or invisible characters) must make the
answer unparsable. Every generated answer is also checked against the readable reference parser.
"""

from __future__ import annotations

import gymnasium as gym
import pytest
from hypothesis import given
from hypothesis import strategies as st

import vlmgym  # noqa: F401  (registers the ids)
from reference import answer_ref
from vlmgym.core.actions import CellCodec, DirectionCodec, PairCodec
from vlmgym.core.answer import parse_answer

PAIR, PLAIN, MINES, DIRS = PairCodec(), CellCodec(), CellCodec(("reveal", "flag"), default_verb="reveal"), DirectionCodec()

_PAIR_FORMS = ["({0}, {1}) ({2}, {3})", "({0},{1}),({2},{3})", "[{0}, {1}] [{2}, {3}]", "{0} {1} {2} {3}",
               "swap ({0}, {1}) with ({2}, {3})", "\uff08{0}\uff0c{1}\uff09\uff08{2}\uff0c{3}\uff09",
               "({0}, {1}) and ({2}, {3}).", "({0},\u00a0{1}) \u2192 ({2},\u3000{3})", "[({0}, {1}), ({2}, {3})]"]
_CELL_FORMS = ["({0}, {1})", "{0} {1}", "cell ({0},{1})", "flag ({0}, {1})", "Reveal {0} {1}", "row {0}, column {1}."]
_DIRECTION_FORMS = ["{0}", "{0} ({name})", "move {0}", "I choose {0}.", "  {0}\n"]

_MINUS_SIGNS = ["-", "\u2212", "\uff0d", "\ufe63", "\u2013", "\u2012", "\u2010", "\u207b", "\u208b", "\u2796", "\u00b1"]


def _script(t: str, zero: int) -> str:
    return "".join(chr(zero + int(d)) for d in t)


# (category, rewrite of a number's digits); "negative" negates the number, "benign" keeps it
_REWRITES: list[tuple[str, object]] = [
    ("benign", lambda t: "0" + t), ("benign", lambda t: "+" + t), ("benign", lambda t: t + "."),
    ("benign", lambda t: " " + t + " "),
    *[("negative", lambda t, s=s: s + t) for s in _MINUS_SIGNS],
    ("malformed", lambda t: t + ".5"), ("malformed", lambda t: t + "." + t), ("malformed", lambda t: "." + t),
    ("malformed", lambda t: "0." + t), ("malformed", lambda t: "-" + t + ".0"),
    ("malformed", lambda t: t + "e3"), ("malformed", lambda t: t + "E+2"), ("malformed", lambda t: "0x" + t),
    ("malformed", lambda t: _script(t, 0xFF10)),            # full-width digits
    ("malformed", lambda t: _script(t, 0x0660)),            # Arabic-Indic digits
    ("malformed", lambda t: _script(t, 0x0966)),            # Devanagari digits
    ("malformed", lambda t: _script(t, 0x1D7CE)),           # mathematical bold digits
    ("malformed", lambda t: "\u2212" + _script(t, 0xFF10)),
    ("malformed", lambda t: t + "\uff12"), ("malformed", lambda t: "\uff11" + t),  # glued to another script
    ("malformed", lambda t: t + "\u00b2"), ("malformed", lambda t: t + "\u00bd"), ("malformed", lambda t: "\u4e09" + t),
    ("malformed", lambda t: t + "st"), ("malformed", lambda t: "r" + t), ("malformed", lambda t: t + "px"),
    ("malformed", lambda t: t + "\u200b" + t), ("malformed", lambda t: t + "\u0301"), ("malformed", lambda t: "\u200d" + t),
    ("malformed", lambda t: t + "\u00ad1"), ("malformed", lambda t: t + "_000"), ("malformed", lambda t: t + "\u00e9"),
    ("malformed", lambda t: t + "\u30025"), ("malformed", lambda t: t + "\uff0e5"), ("malformed", lambda t: t + "\u00b75"),
    ("malformed", lambda t: t + "\u066b5"),
]
_rewrite = st.sampled_from(_REWRITES)


def _expected(intended: tuple[int, ...], cats: list[str]) -> tuple[int, ...] | None:
    if "malformed" in cats:
        return None
    return tuple(-v if c == "negative" else v for v, c in zip(intended, cats))


def _write(form: str, numbers: tuple[int, ...], rewrites: list, **extra: str) -> str:
    return form.format(*(fn(str(n)) for n, (_, fn) in zip(numbers, rewrites)), **extra)


_none = ("benign", lambda t: t)


@given(st.sampled_from(_PAIR_FORMS), st.tuples(*[st.integers(0, 15)] * 4),
       st.lists(st.one_of(_rewrite, st.just(_none)), min_size=4, max_size=4))
def test_pair_answers_are_the_intended_move_off_the_board_or_unparsable(form, numbers, rewrites):
    content = _write(form, numbers, rewrites)
    got = PAIR.parse(content)
    want = _expected(numbers, [c for c, _ in rewrites])
    flat = None if got.action is None else (*got.action[0], *got.action[1])
    assert flat == want, (content, got)
    if want is not None and want != numbers:
        assert min(want) < 0  # a negated number is off every board
    assert got.action == answer_ref.pair(content)
    assert parse_answer(f"<think>x</think><answer>{content}</answer>", PAIR) == got


@given(st.sampled_from(_CELL_FORMS), st.tuples(st.integers(0, 15), st.integers(0, 15)),
       st.lists(st.one_of(_rewrite, st.just(_none)), min_size=2, max_size=2))
def test_cell_answers_are_the_intended_move_off_the_board_or_unparsable(form, numbers, rewrites):
    content = _write(form, numbers, rewrites)
    want = _expected(numbers, [c for c, _ in rewrites])
    assert PLAIN.parse(content).action == want, content
    verb = "flag" if form.startswith("flag") else "reveal"
    assert MINES.parse(content).action == (None if want is None else (verb, want)), content
    for codec in (PLAIN, MINES):
        assert codec.parse(content).action == answer_ref.cell(content, codec.verbs, codec.default_verb)


@given(st.sampled_from(_DIRECTION_FORMS), st.integers(0, 3), st.one_of(_rewrite, st.just(_none)))
def test_direction_answers_are_the_intended_move_or_unparsable(form, d, rewrite):
    content = _write(form, (d,), [rewrite], name=DIRS.names[d])
    cat = rewrite[0]
    want = d if cat == "benign" or (cat == "negative" and d == 0) else None  # "-0" spells 0
    got = DIRS.parse(content)
    assert got.action == want, (content, got)
    assert got.action == answer_ref.direction(content, DIRS.names)


@pytest.mark.parametrize("text, kind, want", [
    # the issue's examples: a Unicode minus is a minus (off the board), not a separator
    ("<answer>(\u22121, 2) (1, 3)</answer>", "pair", ((-1, 2), (1, 3))),
    ("<answer>(\uff0d1, 2) (1, 3)</answer>", "pair", ((-1, 2), (1, 3))),
    ("<answer>\u22121</answer>", "direction", None),
    ("<answer>-1</answer>", "direction", None),
    ("<answer>(1.2, 1.3)</answer>", "pair", None),
    ("<answer>1\uff12</answer>", "direction", None),
    ("<answer>\uff12</answer>", "direction", None),
    ("<answer>(1e3, 2) (3, 4)</answer>", "pair", None),
    # forms that parsed before keep parsing the same
    ("<answer>(0, 1) (2, 1).</answer>", "pair", ((0, 1), (2, 1))),
    ("<answer>\uff081\uff0c2\uff09 \uff081\uff0c3\uff09</answer>", "pair", ((1, 2), (1, 3))),
    ("<answer>move 2.</answer>", "direction", 2),
    ("<answer>3 (left)</answer>", "direction", 3),
])
def test_the_issues_examples(text, kind, want):
    assert parse_answer(text, kind).action == want


def test_not_plain_numbers_say_why():
    reason = parse_answer("<answer>(1.2, 1.3)</answer>", "pair").reason
    assert "'1.2' is not a plain non-negative integer" in reason and "0-9" in reason


def test_in_the_envs_a_unicode_minus_is_illegal_and_a_decimal_unparsable():
    env = gym.make("VLMGym/Swap-v0", obs_mode="text")
    env.reset(seed=0)
    for text, status in [("<answer>(\u22121, 2) (1, 3)</answer>", "illegal"), ("<answer>(1.2, 1.3)</answer>", "unparsable"),
                         ("<answer>(1\uff12, 3) (4, 5)</answer>", "unparsable")]:
        _, reward, _, _, info = env.step(text)
        assert info["action_status"] == status and reward == -1.0, text
    env = gym.make("VLMGym/2048-v0", obs_mode="text")
    env.reset(seed=0)
    for text in ("<answer>\u22121</answer>", "<answer>1\uff12</answer>", "<answer>\uff11</answer>"):
        _, reward, _, _, info = env.step(text)
        assert info["action_status"] == "unparsable" and info["action"] is None and reward == -1.0, text


def test_tool_arguments_are_judged_by_the_same_grammar():
    (pair,) = PAIR.tools()
    assert PAIR.parse(pair.answer(row1=1, col1=2, row2=3, col2=4)).action == ((1, 2), (3, 4))
    import numpy as np

    assert PAIR.parse(pair.answer(row1=np.int64(1), col1=2, row2="3", col2=4)).action == ((1, 2), (3, 4))
    # int() would have turned each of these into a legal-looking move
    for bad in (1.9, 1.0, True, "\uff11", "\u22121.5"):
        assert not PAIR.parse(pair.answer(row1=bad, col1=2, row2=3, col2=4)).ok, bad
    reveal, _ = MINES.tools()
    assert MINES.parse(reveal.answer(row=2, col=3)).action == ("reveal", (2, 3))
    assert not MINES.parse(reveal.answer(row=2.5, col=3)).ok and not MINES.parse(reveal.answer(row=False, col=3)).ok
