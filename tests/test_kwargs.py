"""Kwargs are typed, bounded and checked before anything is allocated (issue 11, "kwargs").

Every knob goes through :mod:`vlmgym.core.params`: booleans must be real booleans (``"False"``
from a command line is refused, not read as true), integers must be integers in range, sizes are
bounded, and the size and count knobs are refused *before* any allocation, which
``tracemalloc`` (NumPy reports its buffers to it) checks without timing anything.
"""

from __future__ import annotations

import tracemalloc

import gymnasium as gym
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import vlmgym
from vlmgym.core import params
from vlmgym.core.layout import MAX_CELL_PX, MAX_IMAGE_SIDE
from vlmgym.envs.engine import MAX_BATCH_BYTES, MAX_NUM_ENVS
from vlmgym.envs.single import VLMGymEnv
from vlmgym.envs.vector import VLMGymVectorEnv

_NOT_BOOL = st.one_of(st.text(max_size=8), st.integers(-3, 3), st.floats(allow_nan=False), st.lists(st.booleans(), max_size=2),
                      st.sampled_from(["False", "True", "false", "0", "no", np.int64(1), 0.0]))
_NOT_INT = st.one_of(st.booleans(), st.floats(allow_nan=False), st.text(max_size=6), st.none(),
                     st.sampled_from(["4", 4.0, np.float64(4), [4], np.bool_(True)]))


@given(_NOT_BOOL)
def test_bool_knobs_refuse_everything_but_bools(value):
    for knob in ("show_coords", "hud"):
        with pytest.raises(ValueError, match=f"{knob} must be True or False, got"):
            VLMGymEnv("2048", **{knob: value})
    with pytest.raises(ValueError, match="solvable must be True or False, got"):
        VLMGymEnv("shisensho", solvable=value)


def test_bools_and_the_hud_default_still_work():
    assert VLMGymEnv("2048", show_coords=np.bool_(True)).engine.show_coords is True
    assert VLMGymEnv("2048", hud=None).engine.hud is True and VLMGymEnv("swap", hud=None).engine.hud is False
    assert VLMGymEnv("2048", hud=False).engine.hud is False


@pytest.mark.parametrize("make, knob", [
    (lambda v: VLMGymEnv("2048", cell_px=v), "cell_px"),
    (lambda v: VLMGymEnv("2048", size=v), "2048 size"),
    (lambda v: VLMGymEnv("swap", rows=v), "Swap rows"),
    (lambda v: VLMGymEnv("shisensho", rows=v, cols=4), "rows"),
    (lambda v: VLMGymEnv("shisensho", types=v), "types"),
    (lambda v: VLMGymVectorEnv("2048", num_envs=v), "num_envs"),
    (lambda v: VLMGymVectorEnv("2048", num_envs=2, max_episode_steps=v), "max_episode_steps"),
    (lambda v: vlmgym.sample_states("VLMGym/2048-v0", 2, k=v), "k"),
])
@given(value=_NOT_INT)
def test_int_knobs_refuse_everything_but_integers(make, knob, value):
    if value is None and knob in ("max_episode_steps", "types", "k"):
        return  # None means "no budget" / "a full board" / "the game's K"
    with pytest.raises(ValueError, match=f"{knob} must be an integer"):
        make(value)


def test_a_command_line_string_says_how_to_write_the_value():
    with pytest.raises(ValueError, match=r"command-line values are JSON: write show_coords=true or show_coords=false"):
        VLMGymEnv("2048", show_coords="False")
    with pytest.raises(ValueError, match=r"cell_px must be an integer from 8 to 512, got '56' \(a string"):
        VLMGymEnv("2048", cell_px="56")


def _peak_mib(fn) -> float:
    tracemalloc.start()
    try:
        with pytest.raises(ValueError) as err:
            fn()
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()
        _peak_mib.last = str(err.value)  # type: ignore[attr-defined]


@pytest.mark.parametrize("fn, message", [
    (lambda: gym.make("VLMGym/2048-v0", image_size=(20000, 20000)), "image_size must have both sides from 1 to 4096"),
    (lambda: gym.make("VLMGym/Shisensho-v0", image_size=(4097, 300)), "image_size must have both sides"),
    (lambda: gym.make("VLMGym/2048-v0", cell_px=20000), "cell_px must be an integer from 8 to 512"),
    (lambda: gym.make_vec("VLMGym/2048-v0", num_envs=10**8), "it would need about"),
    (lambda: gym.make_vec("VLMGym/Shisensho-v0", num_envs=200_000, image_size=(2048, 2048)), "would need about"),
    (lambda: gym.make("VLMGym/Swap-v0", rows=10**9), "Swap rows must be an integer from 3 to 16"),
    (lambda: gym.make("VLMGym/Shisensho-v0", rows=16, cols=16, types=10**9), "types must be an integer from 1 to 64"),
    (lambda: vlmgym.sample_states("VLMGym/2048-v0", 2, k=10**12), "k must be an integer from 0 to 100000"),
])
def test_size_and_count_knobs_are_refused_before_allocating(fn, message):
    peak = _peak_mib(fn)
    assert message in _peak_mib.last  # type: ignore[attr-defined]
    assert peak < 32, f"{peak:.0f} MiB allocated before refusing"


def test_num_envs_says_how_much_memory_it_would_need():
    with pytest.raises(ValueError) as err:
        gym.make_vec("VLMGym/2048-v0", num_envs=10**8)
    text = str(err.value)
    assert f"num_envs must be an integer from 1 to {MAX_NUM_ENVS}, got 100000000" in text
    assert "TiB" in text and "per env for its state, frames and board text" in text
    n = MAX_NUM_ENVS // 2  # within the count, beyond the memory limit with 672 x 672 frames
    with pytest.raises(ValueError, match=rf"num_envs={n} would need about .* more than the limit of "
                                         rf"{params.format_bytes(MAX_BATCH_BYTES)}"):
        gym.make_vec("VLMGym/Shisensho-v0", num_envs=n, cell_px=112)
    assert gym.make_vec("VLMGym/2048-v0", num_envs=8, obs_mode="text").num_envs == 8  # a real batch is fine


@given(st.tuples(st.integers(-5, 10**5), st.integers(-5, 10**5)), st.booleans())
def test_image_size_is_bounded_and_the_fitted_cell_too(size, coords):
    try:
        env = VLMGymEnv("shisensho", image_size=size, show_coords=coords)
    except ValueError as exc:
        assert "image_size" in str(exc)
        return
    layout = env.layout
    assert all(1 <= s <= MAX_IMAGE_SIDE for s in size) and (layout.width, layout.height) == size
    assert 8 <= layout.cell_px <= MAX_CELL_PX  # the fitted cell obeys cell_px's own limit
    assert layout.board_x + 6 * layout.cell_px <= layout.width and layout.board_y + 6 * layout.cell_px <= layout.height


def test_params_helpers():
    assert params.integer("n", np.int32(3), 1, 4) == 3 and type(params.integer("n", np.int32(3), 1)) is int
    assert params.size_pair("s", [3, np.int64(4)], 1, 9) == (3, 4)
    assert params.choice("mode", "a", ("a", "b")) == "a"
    with pytest.raises(ValueError, match="mode must be one of 'a', 'b'; got 1"):
        params.choice("mode", 1, ("a", "b"))
    with pytest.raises(ValueError, match="mode must be one of"):
        params.choice("mode", np.array([1, 2]), ("a", "b"))  # an array's == is not a bool
    with pytest.raises(ValueError, match="x would need about 2.0 GiB, more than the limit of 1.0 GiB; smaller"):
        params.check_memory("x", 2 << 30, 1 << 30, "smaller")
    assert params.format_bytes(512) == "512 B" and params.format_bytes(3 << 20) == "3.0 MiB"
