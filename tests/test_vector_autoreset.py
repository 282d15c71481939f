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
    # ids with a registered step budget (Swap, Sokoban) get a short one, the others none at all
    budget = None if gym.spec(env_id).kwargs.get("max_episode_steps") is None else 6
    assert play(env_id, mode, env_kwargs_for, seed=5, n=3, max_steps=budget,
                action_mode="text", picks=picks) >= 3
    assert play(env_id, mode, env_kwargs_for, seed=5, n=3, max_steps=4, action_mode="index", picks=picks) >= 3


@pytest.mark.parametrize("mode", MODES, ids=lambda m: m.value)
@pytest.mark.parametrize("env_id", IDS)
def test_images_equal_the_reference_across_restarts(env_id, mode, env_kwargs_for):
    rng = np.random.default_rng(2)
    picks = [[(0, int(rng.integers(10_000))) for _ in range(2)] for _ in range(10)]
    play(env_id, mode, env_kwargs_for, seed=11, n=2, max_steps=3, action_mode="index", picks=picks,
         obs_mode="image+text")


# -- NEXT_STEP details, and the Gymnasium wrappers that read episodes ----------------------------------
def _vec(mode, **kw):
    kw = {"size": 3, "obs_mode": "text", **kw}
    return gym.make_vec("VLMGym/2048-v0", num_envs=3, autoreset_mode=mode, **kw)


def _legal_answers(vec):
    index = np.array([np.flatnonzero(m)[0] if m.any() else 0 for m in vec.legal_masks()], dtype=np.int64)
    return [f"<answer>{t}</answer>" for t in vec.game.index_answers(index)]


@pytest.mark.parametrize("spelling", [AutoresetMode.NEXT_STEP, "next_step", "NextStep", "NEXT_STEP", " Next_Step "])
def test_autoreset_mode_spellings(spelling):
    assert _vec(spelling).metadata["autoreset_mode"] is AutoresetMode.NEXT_STEP


def test_bad_autoreset_mode_names_the_allowed_ones():
    with pytest.raises(ValueError, match="'next_step', 'same_step', 'disabled'"):
        _vec("sometimes")
    with pytest.raises(ValueError, match="autoreset_mode"):
        _vec(3)


@pytest.mark.parametrize("reward_mode", ["binary", "score"])
def test_the_answer_after_the_end_is_ignored_and_says_so(reward_mode):
    vec = _vec("next_step", max_episode_steps=1, reward_mode=reward_mode)
    vec.reset(seed=0)
    _, _, _, trunc, info = vec.step(_legal_answers(vec))
    assert trunc.all() and not info["autoreset"].any() and (info["action_status"] == "ok").all()
    finished = vec.get_states()
    obs, reward, term, trunc, info = vec.step(_legal_answers(vec))
    assert info["autoreset"].all() and info["_autoreset"].all()
    assert info["action_status"].tolist() == ["ignored"] * 3 and reward.tolist() == [0.0] * 3
    assert not term.any() and not trunc.any()
    assert list(info["action"]) == [None] * 3 and list(info["parse_error"]) == [None] * 3
    assert not info["success"].any() and not info["gain"].any() and not info["merges"].any()
    assert list(info["end_reason"]) == [None] * 3
    assert info["steps"].tolist() == [0, 0, 0] and info["score"].tolist() == [0, 0, 0]
    assert obs == tuple(info["board_text"]) and vec.get_states() != finished
    _, reward, _, _, info = vec.step(_legal_answers(vec))  # the new game plays
    assert not info["autoreset"].any() and (info["action_status"] == "ok").all() and info["steps"].tolist() == [1] * 3


def test_reset_mask_set_states_and_random_steps_cancel_or_perform_the_pending_restarts():
    vec = _vec("next_step", max_episode_steps=1)
    vec.reset(seed=0)
    vec.step(_legal_answers(vec))  # all three ended: they restart on the next step
    ended = vec.get_states()
    vec.reset(options={"reset_mask": np.array([True, False, False])})  # env 0: a new game now, no restart pending
    vec.set_states([ended[1]], [1])  # env 1: back to its finished game, nothing pending
    _, _, _, trunc, info = vec.step(_legal_answers(vec))
    assert info["autoreset"].tolist() == [False, False, True]
    assert info["action_status"][2] == "ignored" and info["action_status"][0] != "ignored"
    assert trunc[0] and info["steps"][0] == 1
    # random_steps performs pending restarts first, as the next step would
    vec.reset(seed=1)
    vec.step(_legal_answers(vec))
    vec.random_steps(0)
    assert vec.get_states() != ended and [s["steps"] for s in vec.get_states()] == [0, 0, 0]
    _, _, _, _, info = vec.step(_legal_answers(vec))
    assert not info["autoreset"].any()
    # ... or, with reset_finished=False, leaves those envs alone (still pending)
    vec.reset(seed=1)
    vec.step(_legal_answers(vec))
    before = vec.get_states()
    vec.random_steps(3, reset_finished=False)
    assert vec.get_states() == before
    _, _, _, _, info = vec.step(_legal_answers(vec))
    assert info["autoreset"].all()


def test_score_ignores_pending_restarts():
    vec = _vec("next_step", max_episode_steps=1)
    vec.reset(seed=0)
    vec.step(_legal_answers(vec))
    states = vec.get_states()
    rewards, info = vec.score(states, _legal_answers(vec))
    assert "ignored" not in set(info["action_status"]) and vec.get_states() == states
    _, _, _, _, info = vec.step(_legal_answers(vec))
    assert info["autoreset"].all()


@pytest.mark.parametrize("mode", MODES, ids=lambda m: m.value)
@pytest.mark.parametrize("env_id", IDS)
def test_record_episode_statistics_reports_each_games_score_and_steps(env_id, mode, env_kwargs_for):
    """With reward_mode="score" an episode's return is its game's final score and its length the
    game's step counter: RecordEpisodeStatistics must agree in every autoreset mode."""
    vec, _ = make_pair(env_id, 3, mode, env_kwargs_for, obs_mode="text", reward_mode="score", max_episode_steps=5)
    ref_vec = vec
    env = gym.wrappers.vector.RecordEpisodeStatistics(vec)
    env.reset(seed=4)
    rng = np.random.default_rng(4)
    seen = 0
    for _ in range(40):
        picks = [(0 if rng.random() < 0.9 else 2, int(rng.integers(10_000))) for _ in range(3)]
        _, reward, term, trunc, info = env.step(choose_actions(ref_vec, picks))
        done = term | trunc
        assert ("episode" in info) == done.any()
        if not done.any():
            continue
        final = info["final_info"] if mode == AutoresetMode.SAME_STEP else info
        assert info["_episode"].tolist() == done.tolist()
        for i in np.flatnonzero(done):
            assert info["episode"]["r"][i] == final["score"][i], (i, info["episode"], final["score"])
            assert info["episode"]["l"][i] == final["steps"][i], (i, info["episode"], final["steps"])
            seen += 1
        if mode == AutoresetMode.DISABLED:
            env.reset(options={"reset_mask": done.copy()})
    assert seen >= 3
    assert list(env.return_queue) and len(env.return_queue) == len(env.length_queue) == seen


@pytest.mark.parametrize("mode", MODES, ids=lambda m: m.value)
def test_dict_info_to_list_in_every_mode(mode):
    env = gym.wrappers.vector.DictInfoToList(gym.wrappers.vector.RecordEpisodeStatistics(
        _vec(mode, max_episode_steps=1)))
    _, infos = env.reset(seed=0)
    assert [set(i) >= {"prompt", "board_text", "score", "steps"} for i in infos] == [True] * 3
    _, _, _, trunc, infos = env.step(["<answer>0</answer>"] * 3)
    assert trunc.all() and all(i["episode"]["l"] == 1 for i in infos)
    if mode == AutoresetMode.SAME_STEP:
        assert all(i["autoreset"] and i["final_info"]["steps"] == 1 and isinstance(i["final_obs"], str) for i in infos)
    else:
        assert all(not i["autoreset"] and "final_info" not in i for i in infos)
    if mode == AutoresetMode.DISABLED:
        env.reset(options={"reset_mask": trunc.copy()})
    _, _, _, _, infos = env.step(["<answer>0</answer>"] * 3)
    if mode == AutoresetMode.NEXT_STEP:
        assert all(i["autoreset"] and i["action_status"] == "ignored" and i["action"] is None for i in infos)


def test_rng_state_round_trip_continues_exactly():
    import json

    a, b = _vec("same_step", max_episode_steps=2), _vec("same_step", max_episode_steps=2)
    a.reset(seed=7)
    a.step(_legal_answers(a))
    saved = json.loads(json.dumps(a.get_rng_state()))  # JSON data, as eval checkpoints store it
    b.reset(seed=99)
    b.set_states(a.get_states())
    b.set_rng_state(saved)
    for _ in range(6):  # restarts on the way draw from the restored generators
        oa, *_ = a.step(_legal_answers(a))
        ob, *_ = b.step(_legal_answers(b))
        assert oa == ob
    a.random_steps(5)
    b.random_steps(5)
    assert a.get_states() == b.get_states()
    with pytest.raises(ValueError, match="3 envs"):
        b.set_rng_state({"np_random": saved["np_random"], "dealers": saved["dealers"][:2]})
    with pytest.raises(ValueError, match="bit generator"):
        b.set_rng_state({"np_random": {"bit_generator": "Nope"}, "dealers": saved["dealers"]})
