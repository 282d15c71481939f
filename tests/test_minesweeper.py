"""Minesweeper: the batched rules and the first reveal against the readable reference in tests/reference;
the solver against brute force; the env contract; and the game through `vlmgym eval`, `vlmgym play`
and its docs."""

from __future__ import annotations

import json
import re
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import vlmgym
from reference import minesweeper_ref as ref
from vlmgym import GameState, StateError
from vlmgym.games import minesweeper as ms
from vlmgym.games.minesweeper import Minesweeper, analyse

IDS = ["VLMGym/Minesweeper-v0", "VLMGym/Minesweeper5x5-v0", "VLMGym/Minesweeper9x9-v0",
       "VLMGym/Minesweeper16x16-v0", "VLMGym/MinesweeperDots-v0"]
DOCS = Path(__file__).resolve().parents[1] / "docs" / "games" / "minesweeper.md"
seeds = st.integers(0, 2**64 - 1)


def board_of(text: str) -> list[list[int]]:
    """A board from a picture: ``.`` hidden safe, ``m`` hidden mine, ``o`` open safe, ``x`` open
    mine, ``f`` flagged safe, ``M`` flagged mine."""
    code = {".": 0, "m": 1, "o": 2, "x": 3, "f": 4, "M": 5}
    return [[code[ch] for ch in line] for line in text.strip().split("\n")]


# -- strategies ------------------------------------------------------------------------------------
@st.composite
def shapes(draw, max_side: int = 6):
    rows, cols = draw(st.integers(4, max_side)), draw(st.integers(4, max_side))
    return rows, cols, draw(st.integers(1, min(rows * cols - 9, 8)))


@st.composite
def boards(draw, shape=None, max_side: int = 6):
    """Any loadable board: the mines anywhere, open cells anywhere (at most one mine among them),
    flags on hidden cells."""
    rows, cols, m = shape or draw(shapes(max_side))
    cells = [(r, c) for r in range(rows) for c in range(cols)]
    mines = set(draw(st.permutations(cells))[:m])
    safe = [x for x in cells if x not in mines]
    opened = {x for x in safe if draw(st.integers(0, 2)) == 0}
    if draw(st.integers(0, 5)) == 0:
        opened.add(sorted(mines)[0])
    flags = {x for x in cells if x not in opened and draw(st.integers(0, 3)) == 0}
    return ref.assemble(ref.Parts(rows, cols, mines, opened, flags))


def batch_of(game: Minesweeper, bs: list, streams: list[int]) -> dict[str, np.ndarray]:
    b = game.new_batch(len(bs))
    b["board"][:] = np.array(bs, dtype=np.uint8)
    b["rng"][:] = np.array(streams, dtype=np.uint64)
    return b


def played(rows: int, cols: int, mines: int, seed: int, reveals: int) -> list[list[int]]:
    """A fresh deal, then up to ``reveals`` reveals of random safe hidden cells (the reference rules)."""
    stream = ref.Stream(seed)
    board = ref.deal(stream, rows, cols, mines)
    rnd = np.random.default_rng(seed % 2**32)
    for k in range(reveals):
        p = ref.parts(board)
        hidden = [(r, c) for r in range(rows) for c in range(cols) if (r, c) not in p.opened and (
            k == 0 or (r, c) not in p.mines)]
        if not hidden or ref.end_reason(board):
            break
        r, c = hidden[int(rnd.integers(len(hidden)))]
        board = ref.step(board, 0, r, c, stream).board
    return board


# -- rules against the reference -------------------------------------------------------------------
@given(st.data())
def test_moves_masks_ends_and_text_match_the_reference(data):
    shape = data.draw(shapes())
    bs = [data.draw(boards(shape)) for _ in range(data.draw(st.integers(1, 3)))]
    streams = [data.draw(seeds) for _ in bs]
    game = Minesweeper(*shape)
    batch = batch_of(game, bs, streams)
    refs = [ref.Stream(s) for s in streams]
    for _ in range(6):
        now = batch["board"].tolist()
        assert game.legal_mask(batch).tolist() == [ref.legal_actions(b) for b in now]
        over, reason = game.is_over(batch)
        assert reason.tolist() == [ref.end_reason(b) for b in now]
        assert over.tolist() == [ref.end_reason(b) is not None for b in now]
        assert [game.board_text(batch, i) for i in range(len(bs))] == [ref.board_text(b) for b in now]
        acts = np.array([[data.draw(st.integers(-1, 2)), data.draw(st.integers(-1, shape[0])),
                          data.draw(st.integers(-1, shape[1]))] for _ in bs], dtype=np.int64)
        active = np.array([data.draw(st.booleans()) for _ in bs])
        out = game.apply(batch, acts, active)
        for i, b in enumerate(now):
            want = ref.step(b, *acts[i].tolist(), refs[i]) if active[i] else ref.StepResult(b, False, False, 0, False)
            assert batch["board"][i].tolist() == want.board
            assert bool(out.legal[i]) == want.legal and bool(out.success[i]) == want.success
            assert int(out.gain[i]) == want.opened == int(out.info["opened"][i])
            assert bool(out.info["hit_mine"][i]) == want.hit_mine
            assert int(batch["rng"][i]) == refs[i].state  # the first reveal draws only when a mine moves
            Minesweeper.validate_state(game.rules, {k: v[i] for k, v in batch.items()})  # successors load


@settings(max_examples=40)
@given(shapes(max_side=9), st.lists(seeds, min_size=1, max_size=4), st.data())
def test_deal_and_first_reveal_match_the_reference_and_the_first_reveal_opens_a_zero(shape, streams, data):
    rows, cols, m = shape
    game = Minesweeper(rows, cols, m)
    b = game.new_batch(len(streams))
    b["rng"][:] = np.array(streams, dtype=np.uint64)
    game.deal(b)
    cells = [(data.draw(st.integers(0, rows - 1)), data.draw(st.integers(0, cols - 1))) for _ in streams]
    flags = [data.draw(st.booleans()) for _ in streams]
    refs = []
    for i, s in enumerate(streams):
        stream = ref.Stream(s)
        board = ref.deal(stream, rows, cols, m)
        assert b["board"][i].tolist() == board and int(b["rng"][i]) == stream.state
        assert ref.end_reason(board) is None and sum(v & 1 for row in board for v in row) == m
        if flags[i]:  # a flag first: no draw, and the reveal after it is still the first one
            board = ref.step(board, 1, *cells[i], stream).board
        refs.append((stream, board))
    game.apply(b, np.array([[1, r, c] for r, c in cells]), np.array(flags))
    out = game.apply(b, np.array([[0, r, c] for r, c in cells]), np.ones(len(streams), dtype=bool))
    assert out.success.all() and out.legal.all()
    for i, (stream, board) in enumerate(refs):
        want = ref.step(board, 0, *cells[i], stream)
        assert b["board"][i].tolist() == want.board and int(b["rng"][i]) == stream.state
        p = ref.parts(want.board)
        assert ref.number(p, cells[i]) == 0 and not (p.mines & {cells[i], *ref.neighbours(cells[i], rows, cols)})
        assert len(p.mines) == m and want.opened >= 4


def test_the_first_reveal_leaves_every_placement_avoiding_its_zone_equally_likely():
    game = Minesweeper(4, 4, 2)  # 4 x 4, first reveal in a corner: 12 cells outside, C(12, 2) = 66 placements
    n = 66 * 300
    b = game.new_batch(n)
    b["rng"][:] = np.arange(n, dtype=np.uint64) * 7919 + 3
    game.deal(b)
    game.apply(b, np.zeros((n, 3), dtype=np.int64), np.ones(n, dtype=bool))
    keys = np.packbits((b["board"] & 1).reshape(n, -1), axis=1)
    _, counts = np.unique(keys, axis=0, return_counts=True)
    assert len(counts) == 66
    chi2 = float((((counts - 300) ** 2) / 300).sum())
    assert chi2 < 120, chi2  # 65 degrees of freedom: p < 1e-4 beyond 120


@given(st.data())
def test_check_values_accepts_exactly_the_loadable_boards(data):
    shape = data.draw(shapes(max_side=5))
    board = data.draw(boards(shape))
    if data.draw(st.booleans()):  # break it, or not, at one or two cells
        for _ in range(data.draw(st.integers(1, 2))):
            r, c = data.draw(st.integers(0, shape[0] - 1)), data.draw(st.integers(0, shape[1] - 1))
            board[r][c] = data.draw(st.integers(0, 9))
    game = Minesweeper(*shape)
    arrays = {"board": np.array(board, dtype=np.uint8), "rng": np.uint64(1), "score": np.int64(0),
              "steps": np.int64(0), "successes": np.int64(0)}
    state = GameState("minesweeper", game.rules, arrays)
    if ref.valid_board(board, shape[2]):
        assert GameState.from_bytes(state.to_bytes()) == state
    else:
        with pytest.raises(StateError):
            GameState.from_bytes(state.to_bytes())


# -- the solver ------------------------------------------------------------------------------------
@settings(max_examples=60, deadline=None)
@given(st.integers(4, 5), st.integers(4, 5), st.integers(1, 5), seeds, st.integers(1, 4))
def test_solver_claims_hold_in_every_placement_and_its_probabilities_are_exact(rows, cols, m, seed, reveals):
    board = played(rows, cols, m, seed, reveals)
    if ref.end_reason(board):
        assert analyse(np.array(board, dtype=np.uint8), m).move is None
        return
    a = analyse(np.array(board, dtype=np.uint8), m)
    placements = ref.consistent_placements(board, m)
    truth = ref.mine_probabilities(board, m)
    assert placements and a.move in truth  # a hidden cell
    for cell in a.safe:
        assert truth[cell] == 0.0, (cell, a.how)
    for cell in a.mines:
        assert truth[cell] == 1.0
    if a.how in ("single", "subset", "exact"):
        assert a.move == min(a.safe) and truth[a.move] == 0.0
    else:
        assert a.how == "guess" and a.exact  # small boards are always counted exactly
        assert min(truth.values()) > 0.0  # no safe cell was missed
        for cell, p in truth.items():  # every hidden cell but the certain mines
            assert a.probability[cell] == pytest.approx(p) if cell not in a.mines else p == 1.0
        assert truth[a.move] == pytest.approx(min(truth.values()))
        assert a.move == min(c for c, p in truth.items() if p == pytest.approx(min(truth.values())))


def test_beyond_the_budget_the_solver_estimates_and_still_reveals_a_hidden_cell():
    board = played(9, 9, 20, 11, 1)
    exact = analyse(np.array(board, dtype=np.uint8), 20)
    rough = analyse(np.array(board, dtype=np.uint8), 20, budget=1)
    if exact.how == "guess":
        assert exact.exact
    assert not rough.exact or rough.how in ("single", "subset")
    hidden = {(r, c) for r in range(9) for c in range(9) if not board[r][c] & 2}
    assert rough.move in hidden and all(0.0 <= p <= 1.0 for p in rough.probability.values())


SUBSET = """
oo..
m...
....
...m"""


def test_propagation_finds_single_and_subset_deductions():
    # the 1 at (0, 0) sees hidden (1, 0), (1, 1); the 1 at (0, 1) sees those and (0, 2), (1, 2):
    # its mine is the one among the first two, so (0, 2) and (1, 2) are safe (subset)
    board = board_of(SUBSET)
    a = analyse(np.array(board, dtype=np.uint8), 2)
    assert a.how == "subset" and a.move == (0, 2) and a.safe == [(0, 2), (1, 2)] and not a.mines
    assert a.reasons[(0, 2)] == ("The 1 at (0, 0) needs 1 more mine among (1, 0), (1, 1); those cells are all next to the 1 at (0, 1), "
            "which needs 1 more, so its other hidden neighbours are safe, (0, 2) among them.")
    board = board_of("""
oooo
omoo
....
...m""")
    a = analyse(np.array(board, dtype=np.uint8), 2)  # the 1 at (0, 0) has one hidden neighbour: a mine
    assert a.how == "single" and a.mines == [(1, 1)] and a.move == (2, 0)
    assert a.reasons[(2, 0)].startswith("The 1 at (1, 0) already touches its mine at (1, 1), so")
    assert a.reasons[(2, 2)].startswith("The 0 at (1, 3) has no mine around it")


def test_the_oracle_clears_most_boards_and_never_guesses_when_a_cell_is_provably_safe():
    vec = gym.make_vec("VLMGym/Minesweeper-v0", num_envs=16, obs_mode="text", action_mode="index",
                       autoreset_mode="disabled")
    vec.reset(seed=3)
    ends = [None] * 16
    for _ in range(64):
        states = vec.get_states()
        picks = vec.solve(states)
        playing = np.array([e is None for e in ends])
        for i in np.flatnonzero(playing):
            a = analyse(states[i]["board"], 10)
            assert picks[i] == a.move[0] * 8 + a.move[1]
        _, _, term, _, info = vec.step(np.where(picks >= 0, picks, 0))
        assert (info["action_status"][playing] == "ok").all()
        for i in np.flatnonzero(playing & term):
            ends[i] = info["end_reason"][i]
        if all(e is not None for e in ends):
            break
    assert all(e is not None for e in ends) and ends.count("cleared") >= 12, ends
    vec.close()


# -- the env contract --------------------------------------------------------------------------------
def env_at(text: str, mines: int | None = None, **kwargs):
    board = board_of(text)
    rows, cols = len(board), len(board[0])
    mines = sum(v & 1 for row in board for v in row) if mines is None else mines
    env = gym.make("VLMGym/Minesweeper-v0", rows=rows, cols=cols, mines=mines, obs_mode="text", **kwargs)
    env.reset(seed=0)
    env.reset(options={"state": env.unwrapped.make_state(board=board)})
    return env


BOARD = """
m....
.....
.....
.....
..m.m"""


def test_reveal_flag_and_illegal_moves():
    env = env_at(BOARD)
    _, reward, terminated, _, info = env.step("<answer>flag (2, 2)</answer>")
    assert info["action_status"] == "ok" and reward == -1.0 and not info["success"] and info["board_text"].count("F") == 1
    _, reward, _, _, info = env.step("<answer>flag (2, 2)</answer>")  # flagging again removes the flag
    assert info["action_status"] == "ok" and "F" not in info["board_text"]
    env.step("<answer>flag (2, 2)</answer>")
    before = env.unwrapped.get_state()
    _, reward, terminated, _, info = env.step("I open the middle: <answer>(2, 2)</answer>")  # a flag never stops a reveal
    assert info["action"] == ("reveal", (2, 2)) and reward == 1.0 and info["success"] and not terminated
    assert info["board_text"] == "-|1|0|0|0\n1|1|0|0|0\n0|0|0|0|0\n0|1|1|2|1\n0|1|-|-|-"
    assert info["opened"] == 21 and info["gain"] == 21
    assert env.unwrapped.get_state()["rng"] == before["rng"]  # no mine next to (2, 2): none moved, no draw
    state = env.unwrapped.get_state()
    for answer in ("<answer>reveal (2, 2)</answer>", "<answer>flag (0, 1)</answer>", "<answer>reveal (5, 0)</answer>",
                   "<answer>-1 2</answer>"):  # open cells, off the board
        _, reward, _, _, info = env.step(answer)
        assert info["action_status"] == "illegal" and reward == -1.0 and env.unwrapped.get_state()["board"].tolist() == \
            state["board"].tolist() and env.unwrapped.get_state()["rng"] == state["rng"]
    _, reward, _, _, info = env.step("<answer>reveal flag (0, 0)</answer>")
    assert info["action_status"] == "unparsable" and "more than one action" in info["parse_error"]
    _, reward, terminated, _, info = env.step("<answer>reveal (0, 0)</answer>")
    assert reward == -1.0 and terminated and info["end_reason"] == "mine" and info["hit_mine"] and not info["success"]
    assert info["board_text"].startswith("*|1") and not env.unwrapped.legal_actions().any()


def test_score_mode_counts_opened_cells_and_clearing_ends_the_game():
    env = env_at("""
oooo
oooo
oo..
oo.m""", reward_mode="score")
    steps = [env.step(a) for a in ("<answer>flag (3, 3)</answer>", "<answer>reveal (2, 2)</answer>",
                                   "<answer>reveal (2, 3)</answer>", "<answer>reveal (3, 2)</answer>")]
    assert [s[1] for s in steps] == [0.0, 1.0, 1.0, 1.0] and [s[2] for s in steps] == [False, False, False, True]
    assert steps[-1][4]["end_reason"] == "cleared" and env.unwrapped.get_state()["score"] == 3
    assert steps[-1][4]["board_text"].endswith("1|F")  # the flag on the last mine stays
    for env_id in IDS:
        assert gym.spec(env_id).kwargs["max_episode_steps"] == 100 and gym.make(env_id).spec.max_episode_steps == 100
    env = gym.make("VLMGym/Minesweeper-v0", action_mode="index", obs_mode="text")
    _, info = env.reset(seed=0)
    for k in range(1, 101):  # flag and unflag a corner: never ends, truncated at 100
        _, _, terminated, truncated, info = env.step(64)
        assert not terminated and truncated == (k == 100)


@pytest.mark.parametrize("kwargs,match", [
    ({"rows": 3}, "rows must be an integer from 4 to 30"),
    ({"cols": 31}, "cols must be an integer from 4 to 30"),
    ({"rows": 8.0}, "rows must be an integer"),
    ({"mines": 0}, "mines must be an integer from 1 to 55"),
    ({"rows": 4, "cols": 4, "mines": 8}, "mines must be an integer from 1 to 7"),
    ({"mines": True}, "mines must be an integer"),
    ({"numbers": "roman"}, "numbers"),
    ({"palette": "neon"}, "palette"),
])
def test_bad_arguments_raise_value_errors_naming_the_range(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Minesweeper(**kwargs)
    with pytest.raises(ValueError, match=match):
        gym.make("VLMGym/Minesweeper-v0", **kwargs)


def test_snapshots_refuse_impossible_boards_and_rules():
    env = env_at(BOARD)
    snap = env.unwrapped.get_state()
    board = np.array(snap["board"])
    for change, why in (((1, 1, 1), "must hold 3 mines"), ((0, 0, 0), "must hold 3 mines"),
                        ((1, 1, 6), "cell codes are 0..5"), ((1, 1, 9), "cell codes are 0..5")):
        bad = board.copy()
        bad[change[0], change[1]] = change[2]
        with pytest.raises(StateError, match=why):
            GameState.from_bytes(GameState("minesweeper", snap.rules, dict(snap.arrays, board=bad)).to_bytes())
    bad = board.copy()
    bad[0, 0] = bad[4, 4] = ms.MINE | ms.OPEN
    with pytest.raises(StateError, match="at most one mine can be open"):
        GameState.from_bytes(GameState("minesweeper", snap.rules, dict(snap.arrays, board=bad)).to_bytes())
    for rules, why in (({**snap.rules, "mines": 17}, "mines must be"), ({"rows": 5, "cols": 5}, "mines")):
        with pytest.raises(StateError, match=why):
            GameState.from_bytes(GameState("minesweeper", rules, snap.arrays).to_bytes())
    # how numbers are drawn is not a rule: a state loads into an env drawing dots
    other = gym.make("VLMGym/MinesweeperDots-v0", rows=5, cols=5, mines=3, obs_mode="text")
    other.reset(options={"state": snap})
    assert other.unwrapped.get_state() == snap


def test_make_state_takes_a_board_and_board_text_is_exact():
    env = gym.make("VLMGym/Minesweeper-v0", rows=4, cols=5, mines=3, obs_mode="text")
    env.reset(seed=0)
    state = env.unwrapped.make_state(board=[[1, 0, 2, 2, 2], [4, 2, 2, 2, 2], [5, 2, 2, 2, 2], [0, 0, 2, 2, 3]])
    assert env.unwrapped.board_text(state) == "-|-|0|0|0\nF|2|0|0|0\nF|1|0|1|1\n-|-|0|1|*"
    assert env.unwrapped.is_terminal(state) and not env.unwrapped.legal_actions(state).any()
    assert len(env.unwrapped.board_text(state)) <= env.unwrapped.game.text_max_length()


def test_prompt_and_pixels():
    env = env_at(BOARD, render_mode="rgb_array", cell_px=28)
    env.step("<answer>flag (0, 0)</answer>")
    env.step("<answer>reveal (2, 2)</answer>")
    game = env.unwrapped.game
    image = env.render()
    atlas = game.sprites(28)
    assert atlas.shape == (12, 28, 28, 3) and len({a.tobytes() for a in atlas}) == 12
    ids = game.sprite_ids({"board": env.unwrapped.get_state()["board"][None]})[0]
    assert ids[0, 0] == ms.FLAG_ID and ids[4, 4] == ms.HIDDEN_ID and ids[0, 1] == 1 and ids[2, 2] == 0
    for r in range(5):
        for c in range(5):
            assert np.array_equal(image[28 * r: 28 * r + 28, 28 * c: 28 * c + 28], atlas[ids[r, c]])
    dots = Minesweeper(numbers="dots", palette="plain").sprites(28)
    assert not np.array_equal(dots[3], atlas[3]) and np.array_equal(dots[ms.HIDDEN_ID], atlas[ms.HIDDEN_ID])
    assert len({a.tobytes() for a in dots}) == 12
    for mode in ("image", "text", "image+text"):
        prompt = game.prompt(mode)
        assert "<answer>reveal (2, 3)</answer>" in prompt and "<perception>" in prompt and "'F'" in prompt
        assert "rows go 0 to 4" in prompt and "never a mine" in prompt
    assert game.format_answer(("reveal", (1, 2))) == "reveal (1, 2)"
    assert game.parse("<answer>(1, 2)</answer>").action == ("reveal", (1, 2))
    assert game.parse("<answer>Flag 1 2</answer>").action == ("flag", (1, 2))


def test_explain_writes_the_deduction_or_the_probabilities():
    env = gym.make("VLMGym/Minesweeper-v0", obs_mode="text")
    env.reset(seed=0)
    game = env.unwrapped.game
    e = game.explain(env.unwrapped.get_state(), env.unwrapped.board_text(), None, None)
    assert e.think.startswith("Nothing is open yet.") and e.answer == "reveal (4, 3)" and e.think.endswith(
        "So I reveal (4, 3).")
    env = env_at(SUBSET)
    state = env.unwrapped.get_state()
    e = game.explain(state, env.unwrapped.board_text(), None, None)
    assert e.action == ("reveal", (0, 2)) and "needs 1 more mine among (1, 0), (1, 1)" in e.think
    assert "Also safe: (1, 2)." in e.think and e.think.endswith("So I reveal (0, 2).") and e.checked >= 1
    env = env_at("""
o...
.m..
....
...m""")
    e = game.explain(env.unwrapped.get_state(), env.unwrapped.board_text(), None, None)
    assert "No hidden cell is certainly safe" in e.think and "(0, 2) is the safest guess (about 8%)." in e.think
    assert "The least likely: (0, 2) 8%, (0, 3) 8%" in e.think
    move = e.action[1]
    small = env.unwrapped.game
    assert int(small.solve({"board": env.unwrapped.get_state()["board"][None]})[0]) == move[0] * 4 + move[1]
    lost = env_at("""
xo..
oo..
....
...m""")
    e = game.explain(lost.unwrapped.get_state(), lost.unwrapped.board_text(), None, None)
    assert e.action is None and int(small.solve({"board": lost.unwrapped.get_state()["board"][None]})[0]) == -1


def test_sampler_takes_states_a_few_actions_in():
    samples = vlmgym.sample_states("VLMGym/Minesweeper-v0", n=16, seed=0, obs_mode="text")
    assert vlmgym.game_class("minesweeper").sampler_steps == 4
    assert any(re.search("[0-8]", t) for t in samples.info["board_text"])  # most states have cells open
    for state in samples.states:
        assert int((state["board"] & 1).sum()) == 10


# -- through the tools -------------------------------------------------------------------------------
def test_vlmgym_eval_with_videos_and_report(tmp_path):
    from vlmgym.cli import main
    from vlmgym.eval.runner import read_jsonl

    out = tmp_path / "ev"
    assert main(["eval", "VLMGym/Minesweeper5x5-v0", "--policy", "oracle", "--runs", "2", "--steps", "20",
                 "--out", str(out), "--no-progress"]) == 0
    records = read_jsonl(out / "steps.jsonl")
    assert {r["status"] for r in records} == {"ok"} and all(r["action"][0] == "reveal" for r in records)
    assert "cleared" in {r["end_reason"] for r in records}
    summary = json.loads((out / "summary.json").read_text())
    g = summary["games"]["VLMGym/Minesweeper5x5-v0"]
    assert g["metric"] == "successes" and min(g["per_run"]["metric"]) >= 15
    assert len(list((out / "videos").iterdir())) == 2 and (out / "report.html").stat().st_size > 1000


def test_play_session_clicks_reveal_and_flag():
    from vlmgym.play import PlaySession

    s = PlaySession("VLMGym/Minesweeper-v0", seed=0)
    r = s.core.layout
    xy = lambda row, col: (r.board_x + col * r.cell_px + 2, r.board_y + row * r.cell_px + 2)  # noqa: E731
    assert "left click: reveal" in s.help and "right click: flag" in s.help
    assert s.click(*xy(0, 1), button=3) == "<answer>flag (0, 1)</answer>"
    answer = s.click(*xy(4, 4))
    assert answer == "<answer>reveal (4, 4)</answer>"
    before = s.board_text()
    info = s.play(answer)
    assert info["action_status"] == "ok" and info["success"] and s.moves == 1 and s.board_text() != before
    assert s.undo() and s.board_text() == before
    s.close()


def test_play_window_loop_headless_clicks(monkeypatch):
    pygame = pytest.importorskip("pygame")
    from vlmgym.play import PlaySession, run_window

    monkeypatch.setenv("SDL_VIDEODRIVER", "dummy")
    pygame.display.init()
    s = PlaySession("VLMGym/Minesweeper-v0", seed=0)
    layout = s.core.layout
    bw = layout.image_shape[1]
    x0 = (max(bw, 640) - bw) // 2
    pos = (x0 + layout.board_x + 3 * layout.cell_px + 5, layout.board_y + 2 * layout.cell_px + 5)
    pygame.event.post(pygame.event.Event(pygame.MOUSEBUTTONDOWN, button=3, pos=pos))
    run_window(s, max_frames=2)
    assert s.moves == 1 and s.board_text().split("\n")[2].split("|")[3] == "F"
    s.close()


def test_docs_page_code_blocks_run():
    blocks = re.findall(r"```python\n(.*?)```", DOCS.read_text(), re.S)
    assert blocks
    for block in blocks:
        exec(compile(block, str(DOCS), "exec"), {})
