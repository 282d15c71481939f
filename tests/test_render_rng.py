"""Renderer (against a naive per-cell paste) and the per-env random streams."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from vlmgym.core import rng
from vlmgym.core.render import BAND_PX, Renderer


def naive(renderer: Renderer, atlas: np.ndarray, ids: np.ndarray) -> np.ndarray:
    out = np.broadcast_to(renderer.background, (len(ids), *renderer.background.shape)).copy()
    s = atlas.shape[1]
    for b in range(len(ids)):
        for r in range(ids.shape[1]):
            for c in range(ids.shape[2]):
                y, x = renderer.board_y + r * s, renderer.board_x + c * s
                out[b, y:y + s, x:x + s] = atlas[ids[b, r, c]]
    return out


@given(rows=st.integers(1, 7), cols=st.integers(1, 7), cell=st.sampled_from([8, 12, 28, 56]),
       coords=st.booleans(), hud=st.booleans(), pad=st.tuples(st.integers(0, 30), st.integers(0, 30)),
       batch=st.integers(1, 5), seed=st.integers(0, 2**31))
def test_compose_equals_naive_paste(rows, cols, cell, coords, hud, pad, batch, seed):
    g = np.random.default_rng(seed)
    atlas = g.integers(0, 256, (7, cell, cell, 3), dtype=np.uint8)
    nat_w = cols * cell + (BAND_PX if coords else 0)
    nat_h = rows * cell + (BAND_PX if coords else 0) + (BAND_PX if hud else 0)
    size = (nat_w + pad[0], nat_h + pad[1]) if any(pad) else None
    r = Renderer(atlas, rows, cols, show_coords=coords, hud=hud, image_size=size)
    ids = g.integers(0, 7, (batch, rows, cols))
    got = r.compose(ids)  # no HUD values: the HUD band shows only its caption
    assert got.shape == (batch, r.height, r.width, 3)
    assert np.array_equal(got, naive(r, atlas, ids))
    out = np.empty_like(got)
    assert r.compose(ids, out=out) is out and np.array_equal(out, got)


def test_hud_changes_only_the_hud_band():
    atlas = np.full((2, 28, 28, 3), 100, np.uint8)
    r = Renderer(atlas, 2, 6, hud=True)
    ids = np.zeros((3, 2, 6), np.int64)
    frames = r.compose(ids, hud_values=np.array([0, 7, 9876543210]))
    board = frames[:, BAND_PX:]
    assert np.array_equal(board[0], board[1]) and np.array_equal(board[1], board[2])
    hud = frames[:, :BAND_PX]
    assert not np.array_equal(hud[0], hud[1]) and not np.array_equal(hud[1], hud[2])
    # more digits paint more columns
    painted = [(np.abs(h.astype(int) - r.background[:BAND_PX]).sum(axis=(0, 2)) > 0).sum() for h in hud]
    assert painted[0] < painted[2]


def test_pixels_do_not_depend_on_instance():
    from vlmgym.games.game2048 import Game2048

    a, b = Game2048().sprites(56), Game2048().sprites(56)
    assert np.array_equal(a, b)
    assert len({a[e].tobytes() for e in range(len(a))}) == len(a), "every tile looks different"


def test_renderer_rejects_bad_input():
    with pytest.raises(ValueError):
        Renderer(np.zeros((2, 8, 9, 3), np.uint8), 2, 2)
    r = Renderer(np.zeros((2, 8, 8, 3), np.uint8), 2, 2)
    with pytest.raises(ValueError):
        r.compose(np.zeros((1, 3, 2), np.int64))
    with pytest.raises(ValueError, match="smaller"):
        Renderer(np.zeros((2, 8, 8, 3), np.uint8), 2, 2, image_size=(10, 10))


def test_uniform_draws_and_masked_advance():
    state = np.array([1, 2, 3], dtype=np.uint64)
    before = state.copy()
    u = rng.draw_uniform(state, 1000, mask=np.array([True, False, True]))
    assert u.shape == (3, 1000) and (u >= 0).all() and (u < 1).all()
    assert state[1] == before[1] and state[0] != before[0] and state[2] != before[2]
    assert abs(u.mean() - 0.5) < 0.03
    # continuing draws never repeat the previous block
    v = rng.draw_uniform(state, 1000)
    assert not np.array_equal(u[0], v[0])
    # same state -> same draws
    s1, s2 = before.copy(), before.copy()
    assert np.array_equal(rng.draw_bits(s1, 5), rng.draw_bits(s2, 5)) and np.array_equal(s1, s2)


@given(st.integers(1, 40), st.integers(0, 2**63))
def test_random_order_is_a_permutation(n, seed):
    state = np.array([seed, seed ^ 12345], dtype=np.uint64)
    perm = rng.random_order(state, n)
    for row in perm:
        assert sorted(row.tolist()) == list(range(n))


def test_uniform_below_stays_in_range():
    u = np.array([0.0, 0.5, 0.999999999999])
    assert rng.uniform_below(u, 3).tolist() == [0, 1, 2]
    assert rng.uniform_below(u, np.array([1, 1, 1])).tolist() == [0, 0, 0]


def test_seed_from_generator_is_deterministic():
    a = rng.seed_from(np.random.default_rng(5), 4)
    b = rng.seed_from(np.random.default_rng(5), 4)
    assert a.dtype == np.uint64 and np.array_equal(a, b)


@given(steps=st.lists(st.tuples(st.floats(0, 1), st.integers(0, 10**12)), min_size=1, max_size=8),
       batch=st.integers(1, 4), hud=st.booleans(), seed=st.integers(0, 2**31))
def test_recycled_buffers_show_exactly_what_a_full_composition_shows(steps, batch, hud, seed):
    g = np.random.default_rng(seed)
    atlas = g.integers(0, 256, (9, 12, 12, 3), dtype=np.uint8)
    r = Renderer(atlas, 3, 4, hud=hud, show_coords=True)
    ids = g.integers(0, 9, (batch, 3, 4))
    for change, score in steps:
        flip = g.random(ids.shape) < change
        ids = np.where(flip, g.integers(0, 9, ids.shape), ids)
        scores = g.integers(0, score + 1, batch)
        frames = r.compose(ids, scores)  # recycles the previous step's buffer (it was dropped)
        full = r.compose(ids, scores, out=np.empty_like(frames))
        assert np.array_equal(frames, full)
        del frames


def test_frames_are_read_only_and_never_change_while_held():
    atlas = np.random.default_rng(0).integers(0, 256, (5, 8, 8, 3), dtype=np.uint8)
    r = Renderer(atlas, 2, 2, hud=True)
    a_ids = np.zeros((3, 2, 2), np.int64)
    held = r.compose(a_ids, np.array([1, 22, 333]))
    snapshot = held.copy()
    with pytest.raises(ValueError):
        held[0, 0, 0, 0] = 1
    with pytest.raises(ValueError):
        held.setflags(write=True)
    view = held[1]
    for k in range(1, 5):  # more frames while `view` (a view of the first buffer) is alive
        r.compose(np.full((3, 2, 2), k), np.array([k, k, k]))
    assert np.array_equal(held, snapshot) and np.array_equal(view, snapshot[1])
    del held
    assert np.array_equal(view, snapshot[1])  # the view alone still keeps the buffer


def test_env_observations_are_fresh_read_only_arrays():
    import gymnasium as gym

    import vlmgym  # noqa: F401

    vec = gym.make_vec("VLMGym/2048-v0", num_envs=4)
    obs0, _ = vec.reset(seed=0)
    kept = obs0.copy()
    obs1, *_ = vec.step(["<answer>0</answer>"] * 4)
    assert not obs1.flags.writeable and not np.shares_memory(obs0, obs1)
    assert np.array_equal(obs0, kept)
