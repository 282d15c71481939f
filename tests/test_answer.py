"""Answer parsing, format and perception checks: variants, adversarial input, bounded time."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vlmgym.core.actions import DirectionCodec, PairCodec
from vlmgym.core.answer import (
    extract_block,
    format_ok,
    has_localization,
    missing_tags,
    parse_answer,
    parse_direction,
    parse_pair,
    perception_cell_accuracy,
    perception_exact,
)


@pytest.mark.parametrize("text,want", [
    ("<answer>2</answer>", 2),
    ("<answer> 0 </answer>", 0),
    ("<answer>left</answer>", 3),
    ("<answer>UP</answer>", 0),
    ("<answer>Move: right</answer>", 1),
    ("<answer>3 (left)</answer>", 3),
    ("<ANSWER>down</ANSWER>", 2),
    ("<think>up or down?</think><answer>1</answer>", 1),
    ("<answer>0</answer> wait <answer>2</answer>", 2),
    ("<answer>left", 3),  # truncated generation
    ("down", 2),  # a bare short reply
    ("< answer >1</ answer >", 1),
])
def test_direction_variants(text, want):
    p = parse_answer(text, "direction")
    assert p.ok and p.action == want, p


@pytest.mark.parametrize("text,reason", [
    ("<answer>up or down</answer>", "more than one"),
    ("<answer>4</answer>", "not a move"),
    ("<answer></answer>", "no move"),
    ("<answer>upper</answer>", "no move"),
    ("x" * 1000, "no <answer>"),
    ("<answer>1</answer><answer>", "no move"),  # the last block wins, even if empty
])
def test_direction_failures(text, reason):
    p = parse_answer(text, "direction")
    assert not p.ok and reason in p.reason


@pytest.mark.parametrize("text,want", [
    ("<answer>(0, 1) (2, 1)</answer>", ((0, 1), (2, 1))),
    ("<answer>(0,1),(2,1)</answer>", ((0, 1), (2, 1))),
    ("<answer>(0, 1), (2, 1)</answer>", ((0, 1), (2, 1))),
    ("<answer>[3, 4] [5, 6]</answer>", ((3, 4), (5, 6))),
    ("<answer>[(10, 11), (0, 9)]</answer>", ((10, 11), (0, 9))),
    ("<answer>0 1 2 1</answer>", ((0, 1), (2, 1))),
    ("<answer>swap (1, 2) with (1, 3)</answer>", ((1, 2), (1, 3))),
    ("<answer>(-1, 0) (0, 0)</answer>", ((-1, 0), (0, 0))),
    ("<answer>(1234567890123, 0) (0, 0)</answer>", ((10**6, 0), (0, 0))),
])
def test_pair_variants(text, want):
    p = parse_answer(text, "pair")
    assert p.ok and p.action == want, p


@pytest.mark.parametrize("text", ["<answer>(0, 1)</answer>", "<answer>(0,1) (2,1) (3,3)</answer>",
                                  "<answer>none</answer>", "<answer>\u0661 \u0662 3 4</answer>"])
def test_pair_failures(text):
    assert not parse_answer(text, "pair").ok


def test_unknown_kind_is_a_programming_error():
    with pytest.raises(ValueError):
        parse_answer("<answer>1</answer>", "teleport")  # type: ignore[arg-type]


@given(st.text(max_size=3000))
def test_any_text_never_raises(text):
    for kind in ("direction", "pair"):
        p = parse_answer(text, kind)
        assert p.ok or p.reason
    format_ok(text)
    perception_cell_accuracy(text, " 2 | - \n - | 4 ")
    has_localization(text)


@given(st.lists(st.sampled_from(["<answer>", "</answer>", "<perception>", "(", ")", ",", "1", "22",
                                 " ", "\n", "left", "|", ":", "é", "\u202e", "-"]), max_size=300))
def test_tag_soup_never_raises(parts):
    text = "".join(parts)
    parse_answer(text, "pair")
    parse_answer(text, "direction")
    perception_cell_accuracy(text, "a | b")


@pytest.mark.timeout(60)
@pytest.mark.parametrize("junk", [
    "<answer>" * 200_000,
    "(" * 1_000_000,
    "1," * 1_000_000,
    "< answer" * 200_000,
    "\u0663\u202e\U0001F600" * 300_000,
    "<perception>" + "(0, 0): " * 200_000,
    "9" * 2_000_000,
])
def test_megabytes_of_garbage_in_bounded_time(junk):
    # linear-time parsing: these finish in well under a second each (the timeout only guards hangs)
    for kind in ("direction", "pair"):
        assert not parse_answer(junk + "<answer>", kind).ok  # junk before the block
        parse_answer("<answer>" + junk, kind)  # junk inside the block
        parse_answer(junk, kind)  # no block at all
    perception_cell_accuracy("<perception>" + junk, " 2 | - ")
    has_localization("<perception>" + junk)


def test_format_check_needs_all_six_tags():
    good = "<perception>\nx\n</perception><think>t</think><answer>1</answer>"
    assert format_ok(good) and missing_tags(good) == []
    assert missing_tags("<think></think><answer>1</answer>") == ["<perception>", "</perception>"]
    assert not format_ok(good.replace("</think>", ""))


def test_perception_exact_and_cell_accuracy():
    board = " 2 | - \n - | 4 "
    exact = f"<perception>\n{board}\n</perception><think></think><answer>1</answer>"
    assert perception_exact(exact, board)
    assert perception_cell_accuracy(exact, board) == 1.0
    loose = "<perception>2|-\n-|8</perception>"
    assert not perception_exact(loose, board)
    assert perception_cell_accuracy(loose, board) == 0.75
    tagged = "<perception>(0, 0): 2; (0,1): -\n(1, 1): 4</perception>"
    assert perception_cell_accuracy(tagged, board) == 0.75 and has_localization(tagged)
    assert perception_cell_accuracy("no block", board) == 0.0
    assert not has_localization(loose)


def test_extract_block_last_wins_and_unterminated():
    assert extract_block("<think>a</think><think>b</think>", "think") == "b"
    assert extract_block("<answer>x</answer><answer>y", "answer") == "y"
    assert extract_block("nothing", "answer") is None


_PIECES = st.sampled_from(["(", ")", ",", " ", "[", "]", "-", "0", "1", "7", "12", "1234567", "left", "UP", "x",
                           ".", "\n", "\t", "\u2212", "\uff12", "\u212a", "e"])


@given(st.lists(_PIECES, max_size=40).map("".join))
def test_fast_paths_agree_with_the_general_scanners(content):
    assert parse_pair(content) == PairCodec().scan(content)
    assert parse_direction(content) == DirectionCodec().scan(content)


def _extract_reference(text: str, tag: str) -> str | None:
    """Plain restatement of extract_block: last opening tag, up to the next closing tag."""
    import re

    pat = re.compile(rf"<[ \t]{{0,4}}(/?)[ \t]{{0,4}}{tag}[ \t]{{0,4}}>", re.IGNORECASE | re.ASCII)
    tags = [(m.start(), m.end(), bool(m.group(1))) for m in pat.finditer(text)]
    opens = [t for t in tags if not t[2]]
    if not opens:
        return None
    _, end, _ = opens[-1]
    closes = [t for t in tags if t[2] and t[0] >= end]
    return text[end : closes[0][0] if closes else len(text)]


@given(st.lists(st.sampled_from(["<answer>", "</answer>", "<ANSWER>", "< answer>", "</ answer >", "x", "1",
                                 " ", "<answer", "answer>"]), max_size=30).map("".join))
def test_extract_block_matches_its_plain_statement(text):
    assert extract_block(text, "answer") == _extract_reference(text, "answer")


# -- per-cell perception (the report marks wrong cells with it) -------------------------------
_CELL_RE = __import__("re").compile(r"\(\s*([0-9]{1,3})\s*,\s*([0-9]{1,3})\s*\)\s*:[ \t]*([^|\n;]{1,80})")


def _reference_cell_accuracy(text: str, board: str) -> float:
    """Slow, readable reference: count matching cells one by one."""
    def grid(block):
        return [[c.strip().lower() for c in line.split("|")] for line in block.split("\n") if line.strip()]

    truth = grid(board)
    total = sum(len(r) for r in truth)
    block = extract_block(text, "perception")
    if block is None or total == 0:
        return 0.0
    tagged = {}
    for m in _CELL_RE.finditer(block):
        tagged[(int(m.group(1)), int(m.group(2)))] = m.group(3).strip().lower()
    hits = 0
    for r, row in enumerate(truth):
        for c, cell in enumerate(row):
            if tagged:
                hits += tagged.get((r, c)) == cell
            else:
                pred = grid(block)
                hits += r < len(pred) and c < len(pred[r]) and pred[r][c] == cell
    return hits / total


_cell = st.sampled_from(["2", "4", "-", "Red circle", "red CIRCLE", "cat", " Blue square "])


@given(st.lists(st.lists(_cell, min_size=1, max_size=4), min_size=1, max_size=4),
       st.lists(st.lists(_cell, min_size=0, max_size=5), max_size=5), st.booleans(),
       st.lists(st.tuples(st.integers(0, 4), st.integers(0, 4), _cell), max_size=6))
def test_perceived_cells_agree_with_the_accuracy_and_a_reference(truth, seen, tagged, coords):
    from vlmgym.core.answer import board_cells, cell_matches, perceived_cells

    board = "\n".join(" | ".join(row) for row in truth)
    if tagged:
        body = "\n".join(f"({r}, {c}): {v}" for r, c, v in coords)
    else:
        body = "\n".join("|".join(row) for row in seen)
    text = f"<perception>\n{body}\n</perception><answer>1</answer>"
    cells = perceived_cells(text, board)
    want = board_cells(board)
    assert cells is not None and [len(r) for r in cells] == [len(r) for r in want]
    hits = sum(cell_matches(s, t) for sr, tr in zip(cells, want) for s, t in zip(sr, tr))
    acc = perception_cell_accuracy(text, board)
    assert acc == hits / sum(len(r) for r in want)
    assert acc == _reference_cell_accuracy(text, board)
    assert perceived_cells("no block", board) is None
