"""2048 rules: the batched fast path against the readable reference in tests/reference."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import vlmgym  # noqa: F401
from reference import game2048_ref as ref
from vlmgym import GameState
from vlmgym.games.game2048 import Game2048, max_exponent


@st.composite
def boards(draw, min_size=3, max_size=8):
    n = draw(st.integers(min_size, max_size))
    fill = draw(st.floats(0.0, 1.0))
    cap = max_exponent(n)  # also boards at and past the largest tile, which does not merge
    top = draw(st.one_of(st.integers(1, 12), st.integers(max(1, cap - 2), cap + 1)))
    cells = draw(st.lists(st.tuples(st.floats(0, 1), st.integers(1, top)), min_size=n * n, max_size=n * n))
    exps = [e if u < fill else 0 for u, e in cells]
    return np.array(exps, dtype=np.uint8).reshape(n, n)


def values(board: np.ndarray) -> list[list[int]]:
    return [[(1 << int(e)) if e else 0 for e in row] for row in board]


def batch_of(game: Game2048, boards_: list[np.ndarray], seed: int = 0) -> dict:
    b = game.new_batch(len(boards_))
    b["board"][:] = np.stack(boards_)
    b["rng"][:] = np.arange(len(boards_), dtype=np.uint64) * 7919 + seed
    return b


@given(boards(), st.integers(0, 3))
def test_move_matches_reference(board, direction):
    game = Game2048(size=board.shape[0])
    new, gain, merges = game.move(board[None], np.array([direction]))
    want, score, want_merges = ref.move(values(board), direction)
    assert values(new[0]) == want
    assert int(gain[0]) == score
    assert int(merges[0]) == want_merges


@given(boards())
def test_legal_mask_and_terminal_match_reference(board):
    game = Game2048(size=board.shape[0])
    b = batch_of(game, [board])
    mask = game.legal_mask(b)[0]
    assert sorted(np.flatnonzero(mask).tolist()) == ref.legal_moves(values(board))
    over, reason = game.is_over(b)
    assert bool(over[0]) == ref.is_over(values(board))
    assert reason[0] == ("no_moves" if over[0] else None)


@given(st.lists(boards(4, 4), min_size=1, max_size=6), st.lists(st.integers(0, 3), min_size=6, max_size=6),
       st.integers(0, 2**32))
def test_apply_spawns_exactly_once_after_legal_moves_only(bs, dirs, seed):
    game = Game2048(size=4)
    b = batch_of(game, bs, seed)
    before = {k: v.copy() for k, v in b.items()}
    actions = np.array(dirs[: len(bs)], dtype=np.int64)[:, None]
    active = np.ones(len(bs), dtype=bool)
    active[::3] = len(bs) == 1  # some envs sit this step out
    out = game.apply(b, actions, active)
    for i, board in enumerate(bs):
        slid, score, merges = ref.move(values(board), int(actions[i, 0]))
        legal = bool(active[i]) and slid != values(board)
        assert bool(out.legal[i]) == legal
        if not legal:
            assert np.array_equal(b["board"][i], board)
            assert b["rng"][i] == before["rng"][i], "illegal or inactive move advanced the stream"
            assert out.gain[i] == 0 and not out.success[i]
            continue
        after = values(b["board"][i])
        diff = [(r, c) for r in range(4) for c in range(4) if after[r][c] != slid[r][c]]
        assert len(diff) == 1, "exactly one spawned tile"
        r, c = diff[0]
        assert slid[r][c] == 0 and after[r][c] in (2, 4)
        assert out.gain[i] == score and bool(out.success[i]) == (merges > 0)
        assert b["rng"][i] != before["rng"][i]


def test_spawn_distribution_is_uniform_over_empty_cells_and_mostly_twos():
    game = Game2048(size=4)
    n = 20000
    b = game.new_batch(n)
    b["rng"][:] = np.arange(n, dtype=np.uint64) * 0x9E3779B97F4A7C15
    b["board"][:, 0, :] = 1  # top row full of 2s, 12 empty cells
    game._spawn(b, np.ones(n, dtype=bool))
    spawned = b["board"].reshape(n, -1)[:, 4:]
    where = spawned.argmax(axis=1)
    counts = np.bincount(where, minlength=12)
    assert counts.min() > n / 12 * 0.85 and counts.max() < n / 12 * 1.15
    fours = (spawned.max(axis=1) == 2).mean()
    assert 0.08 < fours < 0.12


def test_score_is_wide_integer():
    # the original stored the score in 8 bits: 128 + 128 merged to 256 scored 0
    env = gym.make("VLMGym/2048-v0", action_mode="index")
    env.reset(seed=0)
    g = env.unwrapped
    s = g.get_state()
    board = np.zeros((4, 4), np.uint8)
    board[0, :2] = 7  # 128 128
    board[1, :2] = 16  # 2**16 2**16 -> 2**17, beyond every small integer type
    arrays = dict(s.arrays, board=board, score=np.int64(2**40))
    g.set_state(GameState("2048", s.rules, arrays))
    _, r, _, _, info = env.step(3)
    assert info["gain"] == 256 + 2**17 and info["score"] == 2**40 + 256 + 2**17
    assert g.get_state()["score"].dtype == np.int64


def test_state_validation_rejects_impossible_tiles():
    env = gym.make("VLMGym/2048-v0")
    env.reset(seed=0)
    s = env.unwrapped.get_state()
    board = np.zeros((4, 4), np.uint8)
    board[0, 0] = 18
    bad = GameState("2048", s.rules, dict(s.arrays, board=board))
    with pytest.raises(ValueError, match="exceeds"):
        GameState.from_bytes(bad.to_bytes())


@pytest.mark.parametrize("size", [3, 5, 8])
def test_size_knob_and_board_text_format(size):
    env = gym.make("VLMGym/2048-v0", size=size, obs_mode="image+text")
    obs, info = env.reset(seed=3)
    lines = info["board_text"].split("\n")
    assert len(lines) == size and all(len(line.split("|")) == size for line in lines)
    for line in lines:
        for cell in line.split("|"):
            assert cell == " - " or (cell[0] == " " and cell[-1] == " " and cell.strip().isdigit())
    assert obs["text"] == info["board_text"]
    assert env.spec.kwargs["size"] == size
    for bad in (1, 2, 9, "4", 4.0, True):
        with pytest.raises(ValueError, match="3 to 8"):
            gym.make("VLMGym/2048-v0", size=bad)


def test_board_text_exact_example():
    game = Game2048(size=4)
    b = game.new_batch(1)
    b["board"][0] = [[1, 0, 0, 4], [0, 0, 0, 0], [11, 11, 0, 0], [0, 0, 0, 17]]
    assert game.board_text(b, 0) == (
        " 2 | - | - | 16 \n - | - | - | - \n 2048 | 2048 | - | - \n - | - | - | 131072 ")


def test_seeded_runs_are_reproducible():
    def run(seed):
        env = gym.make("VLMGym/2048-v0", obs_mode="text")
        env.reset(seed=seed)
        out = []
        for a in [0, 1, 2, 3] * 10:
            o, r, te, tr, info = env.step(f"<answer>{a}</answer>")
            out.append((o, r, te))
        return out
    assert run(7) == run(7)
    assert run(7) != run(8)


def test_human_render_and_rgb_array_agree_with_obs():
    env = gym.make("VLMGym/2048-v0", render_mode="rgb_array")
    obs, _ = env.reset(seed=1)
    assert np.array_equal(env.render(), obs)
