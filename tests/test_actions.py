"""Action codecs: grammars against readable references, round trips, tools, input mapping."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from reference import answer_ref
from vlmgym import parse_answer
from vlmgym.core.actions import CellCodec, DirectionCodec, PairCodec, codec_for_kind

MINES = CellCodec(verbs=("reveal", "flag"), default_verb="reveal")
STRICT = CellCodec(verbs=("reveal", "flag"))
PLAIN = CellCodec()
COMPASS = DirectionCodec(("north", "east", "south", "west"), tool_summary="Walk one step.")

_PIECES = st.sampled_from(["(", ")", ",", " ", "-", "0", "1", "7", "12", "1234567", "reveal", "FLAG", "flags",
                           "up", "Left", "north", "x", "é", "\u0663", "\n",
                           # near-misses of the number grammar (tests/reference/answer_ref.py)
                           ".", "\u2212", "\uff0d", "\uff12", "\u00b2", "e", "_", "\u200b", "\u0301", "\uff0c",
                           "\u3002", "\u00b7", "+", "\u00a0", "\U0001d7cf", "\u4e09"])
_TEXT = st.lists(_PIECES, max_size=30).map("".join)


@given(_TEXT)
def test_cell_codecs_follow_the_reference_grammar(content):
    for codec in (MINES, STRICT, PLAIN):
        assert codec.parse(content).action == answer_ref.cell(content, codec.verbs, codec.default_verb)


@given(_TEXT)
def test_pair_codec_follows_the_reference_grammar(content):
    assert PairCodec().parse(content).action == answer_ref.pair(content)


@given(_TEXT)
def test_direction_codecs_follow_the_reference_grammar(content):
    for codec in (DirectionCodec(), COMPASS):
        assert codec.parse(content).action == answer_ref.direction(content, codec.names)


def test_cell_answers_and_reasons():
    assert MINES.parse("flag (2, 3)").action == ("flag", (2, 3))
    assert MINES.parse("(2,3)").action == ("reveal", (2, 3))  # the default verb
    assert MINES.parse("Reveal cell 4 5").action == ("reveal", (4, 5))
    assert "more than one action" in MINES.parse("reveal or flag (1, 1)").reason
    assert "no action word" in STRICT.parse("(1, 1)").reason
    assert "more than two numbers" in PLAIN.parse("(1, 2, 3)").reason
    assert "found 1 numbers" in PLAIN.parse("(1)").reason
    assert parse_answer("<think>x</think><answer>flag (0, 9)</answer>", MINES).action == ("flag", (0, 9))
    assert parse_answer("<answer>3</answer>", "direction").action == 3  # kind names still work
    assert parse_answer("<answer>(1, 2)</answer>", "cell").action == (1, 2)
    with pytest.raises(ValueError, match="unknown action kind 'teleport'"):
        codec_for_kind("teleport")


_CELL = st.tuples(st.integers(-10**6, 10**6), st.integers(-10**6, 10**6))


@given(st.lists(st.tuples(st.sampled_from(["reveal", "flag"]), _CELL), max_size=8), st.lists(_CELL, max_size=8),
       st.lists(st.tuples(_CELL, _CELL), max_size=8), st.lists(st.integers(0, 3), max_size=8))
def test_format_parse_arrays_json_and_tools_round_trip(verbed, cells, pairs, dirs):
    for codec, actions in ((MINES, verbed), (PLAIN, cells), (PairCodec(), pairs), (DirectionCodec(), dirs)):
        arr = codec.to_arrays(actions)
        assert arr.dtype == np.int64 and arr.shape == (len(actions), codec.arity)
        assert codec.from_arrays(arr) == list(actions)
        for a in actions:
            assert codec.parse(codec.format(a)).action == a
            assert codec.from_json(codec.to_json(a)) == a and codec.from_array(codec.to_array(a)) == a
            name, args = codec.tool_call(a)
            (tool,) = [t for t in codec.tools() if t.name == name]
            assert codec.parse(tool.answer(**args)).action == a
            if codec.cells_per_action:
                assert a in [codec.click_action(codec.cells(a), b) for b in (1, 3)]


def test_tools_describe_themselves_like_the_multi_turn_layer_needs():
    (move,) = DirectionCodec(tool_summary="Slide.").tools()
    assert move.name == "move" and [a.name for a in move.args] == ["direction"] and move.args[0].type is str
    assert move.docstring() == ('Slide.\n\nArgs:\n    direction: The direction: "up", "right", "down" or "left" '
                                '(or its number 0, 1, 2, 3).\n\nReturns:\n    The result of the move and a '
                                'picture of the new board.')
    (pair,) = PairCodec(tool_name="remove_pair", noun="tile").tools()
    assert [a.name for a in pair.args] == ["row1", "col1", "row2", "col2"] and pair.args[0].doc.startswith(
        "Row of the first tile")
    assert pair.answer(row1=1, col1=2, row2="3", col2=4) == "(1, 2) (3, 4)"
    reveal, flag = MINES.tools()
    assert (reveal.name, flag.name) == ("reveal", "flag") and flag.answer(row=0, col=1) == "flag (0, 1)"
    (walk,) = COMPASS.tools()
    assert '"north", "east", "south" or "west"' in walk.args[0].doc and walk.summary == "Walk one step."


def test_people_input():
    d = DirectionCodec()
    assert [d.key_action(k) for k in ("up", "D", "s", "left", "space")] == [0, 1, 2, 3, None]
    assert d.controls() == "arrow keys or W/A/S/D: move" and d.cells_per_action == 0
    assert COMPASS.key_names() == () and COMPASS.key_action("up") is None
    assert DirectionCodec(("up", "down"), keys={"k": 0, "j": 1}).key_action("J") == 1
    assert MINES.click_action([(1, 2)]) == ("reveal", (1, 2)) and MINES.click_action([(1, 2)], 3) == ("flag", (1, 2))
    assert "right click: flag" in MINES.controls()
    assert PairCodec().click_action([(0, 0), (1, 1)]) == ((0, 0), (1, 1)) and PairCodec().click_action([(0, 0)]) is None
    assert PairCodec().cells(((0, 1), (9, 9))) == [(0, 1), (9, 9)] and d.cells(2) == []
    assert d.describe(3) == "3 (left)" and d.describe(7) == "7"


@pytest.mark.parametrize("make, match", [
    (lambda: DirectionCodec(("up",)), "at least two distinct words"),
    (lambda: DirectionCodec(("up", "up")), "at least two distinct words"),
    (lambda: DirectionCodec(("up", "r2")), "words of letters"),
    (lambda: DirectionCodec(tool_name="reset"), "public Python identifier"),
    (lambda: CellCodec(("a", "a")), "distinct words"),
    (lambda: CellCodec(("a", "b"), default_verb="c"), "default_verb must be one of"),
    (lambda: CellCodec(("a", "b"), tool_names=("x",)), "one tool name and one summary per verb"),
    (lambda: PairCodec(tool_name="_hidden"), "public Python identifier"),
])
def test_bad_codec_arguments(make, match):
    with pytest.raises(ValueError, match=match):
        make()
