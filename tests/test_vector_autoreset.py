"""Autoreset of the native vector env against a readable reference: Gymnasium's own
``SyncVectorEnv`` of single envs, given the same seeds and actions, in NEXT_STEP, SAME_STEP and
DISABLED mode, for every game (small boards, so that games end within a few steps).

The one documented difference: when the last allowed step also ends the game, Gymnasium's
``TimeLimit`` reports terminated *and* truncated; vlmgym reports terminated only. The reference's
single envs drop ``info["action"]``: ``SyncVectorEnv`` types each info key by the first env's
value, so 2048's action (an int, or None for an unparsable answer) cannot be batched by it when a
later env's answer is unparsable (docs/api.md); the comparison does not need it.
"""

from __future__ import annotations

import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.vector import AutoresetMode
from hypothesis import given, settings
from hypothesis import strategies as st

from vector_cases import one_id_per_game, small_kwargs
from vlmgym import VLMGymVectorEnv

IDS = one_id_per_game()
MODES = [AutoresetMode.NEXT_STEP, AutoresetMode.SAME_STEP, AutoresetMode.DISABLED]


class DropActionInfo(gym.Wrapper):
    """The reference's single envs without ``info["action"]`` (see the module docstring)."""

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        info.pop("action", None)
        return obs, reward, terminated, truncated, info


def make_pair(env_id: str, n: int, mode: AutoresetMode, extra: dict, **kw):
    """The native vector env and the reference (a SyncVectorEnv of single envs), built alike."""
    kwargs = {**small_kwargs(env_id, extra), **kw}
    native = gym.make_vec(env_id, num_envs=n, autoreset_mode=mode, **kwargs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the single envs' passive checker on text spaces
        ref = gym.make_vec(env_id, num_envs=n, vectorization_mode="sync",
                           vector_kwargs={"autoreset_mode": mode}, wrappers=[DropActionInfo], **kwargs)
    assert isinstance(native, VLMGymVectorEnv) and isinstance(ref, gym.vector.SyncVectorEnv)
    return native, ref


def choose_actions(vec: VLMGymVectorEnv, picks: list[tuple[int, int]]):
    """One action per env from (kind, number): 0 a legal move, 1 any index, 2 junk (text) / any index."""
    game = vec.game
    masks = vec.legal_masks()
    index = []
    for (kind, k), mask in zip(picks, masks):
        legal = np.flatnonzero(mask)
        index.append(int(legal[k % len(legal)]) if kind == 0 and len(legal) else k % game.num_actions)
    if vec.engine.action_mode == "index":
        return np.array(index, dtype=np.int64)
    answers = [f"<answer>{a}</answer>" for a in game.index_answers(np.array(index, dtype=np.int64))]
    return [a if kind != 2 else "I am not sure." for a, (kind, _) in zip(answers, picks)]


def assert_same_obs(a, b, where: str) -> None:
    if isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for k in a:
            assert_same_obs(a[k], b[k], f"{where}[{k}]")
    elif isinstance(a, tuple):
        assert a == tuple(b), where
    else:
        assert np.array_equal(a, b), where


def compare_step(native_out, ref_out, mode: AutoresetMode, n: int, where: str) -> None:
    o1, r1, te1, tr1, i1 = native_out
    o2, r2, te2, tr2, i2 = ref_out
    assert_same_obs(o1, o2, f"{where}: observations")
    assert r1.tolist() == r2.tolist(), f"{where}: rewards {r1} vs {r2}"
    assert te1.tolist() == te2.tolist(), f"{where}: terminated {te1} vs {te2}"
    assert tr1.tolist() == (tr2 & ~te2).tolist(), f"{where}: truncated {tr1} vs {tr2}"
    for key in ("board_text", "score", "steps"):
        assert list(i1[key]) == list(i2[key]), f"{where}: info[{key!r}]"
    played = i2.get("_action_status", np.zeros(n, dtype=bool))  # envs whose answer the reference played
    if played.any():
        assert list(i1["action_status"][played]) == list(i2["action_status"][played]), f"{where}: action_status"
    if mode == AutoresetMode.NEXT_STEP:
        # the reference reset these envs instead of stepping them: their answers were ignored
        assert i1["autoreset"].tolist() == (~played).tolist(), f"{where}: autoreset mask"
        assert set(i1["action_status"][~played]) <= {"ignored"}, f"{where}: ignored answers"
        assert (r1[~played] == 0).all() and not te1[~played].any() and not tr1[~played].any()
        assert "final_obs" not in i1
    elif mode == AutoresetMode.SAME_STEP:
        done = i2.get("_final_obs", np.zeros(n, dtype=bool))
        assert i1.get("_final_obs", np.zeros(n, dtype=bool)).tolist() == done.tolist(), f"{where}: final_obs mask"
        assert i1["autoreset"].tolist() == done.tolist() == (te1 | tr1).tolist(), f"{where}: autoreset mask"
        for i in np.flatnonzero(done):
            assert_same_obs(i1["final_obs"][i], i2["final_obs"][i], f"{where}: final_obs[{i}]")
            for key in ("board_text", "score", "steps", "action_status"):
                assert i1["final_info"][key][i] == i2["final_info"][key][i], f"{where}: final_info[{key!r}][{i}]"
            assert i1["action_status"][i] == i2["final_info"]["action_status"][i]
    else:
        assert not i1["autoreset"].any() and "final_obs" not in i1


def play(env_id, mode, extra, seed, n, max_steps, action_mode, picks, obs_mode="text"):
    native, ref = make_pair(env_id, n, mode, extra, obs_mode=obs_mode, action_mode=action_mode,
                            max_episode_steps=max_steps)
    o1, i1 = native.reset(seed=seed)
    o2, i2 = ref.reset(seed=seed)
    assert_same_obs(o1, o2, "reset")
    assert list(i1["board_text"]) == list(i2["board_text"])
    ended = 0
    for t, step_picks in enumerate(picks):
        acts = choose_actions(native, step_picks)
        n_out = native.step(acts)
        r_out = ref.step(acts)
        compare_step(n_out, r_out, mode, n, f"step {t}")
        done = n_out[2] | n_out[3]
        ended += int(done.sum())
        if mode == AutoresetMode.DISABLED and done.any():
            o1, _ = native.reset(options={"reset_mask": done.copy()})
            o2, _ = ref.reset(options={"reset_mask": done.copy()})
            assert_same_obs(o1, o2, f"step {t}: reset_mask")
    native.close()
    ref.close()
    return ended


def steps_of_picks(n: int):
    pick = st.tuples(st.integers(0, 2), st.integers(0, 10_000))
    return st.lists(st.lists(pick, min_size=n, max_size=n), min_size=1, max_size=24)


@st.composite
def episodes(draw):
    n = draw(st.integers(1, 3))
    return dict(seed=draw(st.integers(0, 2**16)), n=n, max_steps=draw(st.sampled_from([1, 2, 3, 5, 8, None])),
                action_mode=draw(st.sampled_from(["text", "index"])), picks=draw(steps_of_picks(n)))


@pytest.mark.parametrize("mode", MODES, ids=lambda m: m.value)
@pytest.mark.parametrize("env_id", IDS)
@settings(max_examples=25)
@given(case=episodes())
def test_vector_env_equals_sync_vector_env_of_single_envs(env_id, mode, case, env_kwargs_for):
    play(env_id, mode, env_kwargs_for, **case)


@pytest.mark.parametrize("mode", MODES, ids=lambda m: m.value)
@pytest.mark.parametrize("env_id", IDS)
def test_games_end_and_restart_in_the_comparison(env_id, mode, env_kwargs_for):
    """The property above sees real endings: terminations on small boards, truncations, restarts."""
    rng = np.random.default_rng(1)
    picks = [[(0 if rng.random() < 0.8 else 2, int(rng.integers(10_000))) for _ in range(3)] for _ in range(100)]
    assert play(env_id, mode, env_kwargs_for, seed=5, n=3, max_steps=None if "Swap" not in env_id else 6,
                action_mode="text", picks=picks) >= 3
    assert play(env_id, mode, env_kwargs_for, seed=5, n=3, max_steps=4, action_mode="index", picks=picks) >= 3


@pytest.mark.parametrize("mode", MODES, ids=lambda m: m.value)
@pytest.mark.parametrize("env_id", IDS)
def test_images_equal_the_reference_across_restarts(env_id, mode, env_kwargs_for):
    rng = np.random.default_rng(2)
    picks = [[(0, int(rng.integers(10_000))) for _ in range(2)] for _ in range(10)]
    play(env_id, mode, env_kwargs_for, seed=11, n=2, max_steps=3, action_mode="index", picks=picks,
         obs_mode="image+text")
