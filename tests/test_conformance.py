"""Every registered id through the same API checks (add a game, get these tests for free)."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import vlmgym
from vlmgym import ENV_IDS, GameState, VLMGymVectorEnv

IDS = sorted(ENV_IDS)
MODES = [(o, a) for o in ("image", "text", "image+text") for a in ("text", "index")]


def make(env_id, env_kwargs_for, **kw):
    return gym.make(env_id, **{**env_kwargs_for.get(env_id, {}), **kw})


def make_vec(env_id, env_kwargs_for, n, **kw):
    return gym.make_vec(env_id, num_envs=n, **{**env_kwargs_for.get(env_id, {}), **kw})


@pytest.mark.parametrize("env_id", IDS)
@pytest.mark.parametrize("obs_mode,action_mode", MODES)
def test_check_env_every_mode(env_id, obs_mode, action_mode, env_kwargs_for):
    for reward_mode in ("binary", "score"):
        env = make(env_id, env_kwargs_for, obs_mode=obs_mode, action_mode=action_mode,
                   reward_mode=reward_mode)
        check_env(env.unwrapped, skip_render_check=False)
        env.close()


def test_module_prefixed_id_imports_package_in_a_fresh_process():
    import subprocess
    import sys

    code = ("import gymnasium as gym, sys; env = gym.make('vlmgym:VLMGym/2048-v0'); "
            "assert 'vlmgym' in sys.modules; print(env.spec.id, env.spec.vector_entry_point)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["VLMGym/2048-v0", "vlmgym.envs.vector:VLMGymVectorEnv"]


@pytest.mark.parametrize("env_id", IDS)
def test_make_vec_is_native_and_matches_single_envs(env_id, env_kwargs_for):
    vec = make_vec(env_id, env_kwargs_for, 3, obs_mode="image+text", action_mode="index")
    assert isinstance(vec, VLMGymVectorEnv)
    obs, info = vec.reset(seed=11)
    singles = [make(env_id, env_kwargs_for, obs_mode="image+text", action_mode="index")
               for _ in range(3)]
    outs = [s.reset(seed=11 + i) for i, s in enumerate(singles)]
    rng = np.random.default_rng(0)
    for step in range(12):
        for i, (o, inf) in enumerate(outs):
            assert np.array_equal(obs["image"][i], o["image"]), (step, i)
            assert obs["text"][i] == o["text"]
            assert info["board_text"][i] == inf["board_text"]
            assert np.array_equal(info["action_mask"][i], inf["action_mask"])
        # prefer legal moves so games advance
        acts = np.array([rng.choice(np.flatnonzero(m)) if m.any() else 0 for m in info["action_mask"]])
        vec_autoreset = vec.autoreset_mode
        obs, rew, term, trunc, info = vec.step(acts)
        new_outs = []
        for i, s in enumerate(singles):
            o, r, te, tr, inf = s.step(int(acts[i]))
            assert r == rew[i] and te == term[i]
            assert inf["action_status"] == info["action_status"][i]
            if te or tr:
                assert vec_autoreset == gym.vector.AutoresetMode.SAME_STEP
                assert np.array_equal(info["final_obs"][i]["image"], o["image"])
                o, inf = s.reset(seed=None)  # streams differ after an autoreset; resync:
                s.unwrapped.set_state(vec.get_states([i])[0])
                o, inf = s.unwrapped._observe()
            new_outs.append((o, inf))
        outs = new_outs
    vec.close()


@pytest.mark.parametrize("env_id", IDS)
def test_snapshot_round_trip_and_restore(env_id, env_kwargs_for):
    env = make(env_id, env_kwargs_for, action_mode="index")
    env.reset(seed=5)
    mask = env.unwrapped.legal_actions()
    env.step(int(np.flatnonzero(mask)[0]))
    snap = env.unwrapped.get_state()
    blob = snap.to_bytes()
    back = GameState.from_bytes(blob)
    assert back == snap and back.digest() == snap.digest()
    # continuing from the snapshot twice gives identical futures (rng is in the state)
    futures = []
    for _ in range(2):
        env.unwrapped.set_state(back)
        traj = []
        for a in range(min(env.action_space.n, 6)):
            obs, r, te, tr, info = env.step(a)
            traj.append((r, info["board_text"], info["action_status"]))
        futures.append(traj)
    assert futures[0] == futures[1]
    with pytest.raises(AttributeError):
        snap.foo = 1
    with pytest.raises(ValueError):
        snap["board" if "board" in snap.arrays else next(iter(snap.arrays))][...] = 0


@pytest.mark.parametrize("env_id", IDS)
def test_score_equals_stepping_restored_copies_and_leaves_live_envs(env_id, env_kwargs_for):
    vec = make_vec(env_id, env_kwargs_for, 4, obs_mode="text")
    vec.reset(seed=2)
    vec.random_steps(3)
    states = vec.get_states()
    game = vec.game
    answers, repeated = [], []
    rng = np.random.default_rng(1)
    for s in states:
        legal = np.flatnonzero(game.legal_mask(vec.engine.stack([s]))[0])
        for j in range(5):
            pick = legal[j % len(legal)] if j < 3 and len(legal) else rng.integers(game.num_actions)
            act = game.from_array(game.decode(np.array([pick]))[0])
            answers.append(f"<answer>{game.format_answer(act)}</answer>" if j != 4 else "no idea")
            repeated.append(s)
    before = [s.to_bytes() for s in vec.get_states()]
    rewards, infos = vec.score(repeated, answers, return_states=True)
    assert [s.to_bytes() for s in vec.get_states()] == before
    single = make(env_id, env_kwargs_for, obs_mode="text")
    single.reset(seed=0)
    for i, (s, a) in enumerate(zip(repeated, answers)):
        single.unwrapped.set_state(s)
        _, r, te, _, info = single.step(a)
        assert r == rewards[i]
        assert info["action_status"] == infos["action_status"][i]
        assert te == infos["terminated"][i]
        assert single.unwrapped.get_state() == infos["next_state"][i]
    # identical completions from the same state get identical rewards
    r2, _ = vec.score(repeated, answers)
    assert np.array_equal(rewards, r2)


@pytest.mark.parametrize("env_id", IDS)
def test_model_text_never_raises(env_id, env_kwargs_for):
    env = make(env_id, env_kwargs_for)
    env.reset(seed=0)
    for text in ["", "\x00" * 100, "<answer>", "</answer><answer>", "é" * 5000, "<answer>-1</answer>",
                 "<answer>99999999999999999999999 1 2 3</answer>", "<answer>(0,0) (0,0)</answer>",
                 "<answer>(7, 7) (100, 100)</answer>", "\U0001F600<answer>\u0663</answer>"]:
        _, r, _, _, info = env.step(text)
        assert info["action_status"] in ("ok", "illegal", "unparsable")
        assert r in (-1.0, 1.0)


@pytest.mark.parametrize("env_id", IDS)
def test_bad_kwargs_and_index_actions(env_id, env_kwargs_for):
    with pytest.raises(ValueError, match="obs_mode"):
        make(env_id, env_kwargs_for, obs_mode="pixels")
    with pytest.raises(ValueError, match="action_mode"):
        make(env_id, env_kwargs_for, action_mode="continuous")
    with pytest.raises(ValueError, match="reward_mode"):
        make(env_id, env_kwargs_for, reward_mode="dense")
    with pytest.raises(ValueError, match="render_mode"), pytest.warns(UserWarning, match="ansi"):
        make(env_id, env_kwargs_for, render_mode="ansi")  # gymnasium warns first, we refuse
    with pytest.raises(ValueError, match="Allowed"):
        make(env_id, env_kwargs_for, no_such_knob=1)
    env = make(env_id, env_kwargs_for, action_mode="index")
    env.reset(seed=0)
    n = env.action_space.n
    with pytest.raises(TypeError, match="Discrete"):
        env.step("<answer>1</answer>")
    with pytest.raises(TypeError):
        env.step(1.5)
    with pytest.raises(ValueError, match="outside"):
        env.step(n)
    with pytest.raises(ValueError, match="outside"):
        env.step(-1)
    env = make(env_id, env_kwargs_for)
    env.reset(seed=0)
    with pytest.raises(TypeError, match="str"):
        env.step(3)


@pytest.mark.parametrize("env_id", IDS)
def test_vector_autoreset_modes(env_id, env_kwargs_for):
    from gymnasium.vector import AutoresetMode

    with pytest.raises(ValueError, match="NEXT_STEP"):
        make_vec(env_id, env_kwargs_for, 2, autoreset_mode=AutoresetMode.NEXT_STEP)
    for mode in (AutoresetMode.SAME_STEP, AutoresetMode.DISABLED):
        vec = make_vec(env_id, env_kwargs_for, 3, autoreset_mode=mode, max_episode_steps=2,
                       obs_mode="text")
        assert vec.metadata["autoreset_mode"] == mode
        obs, _ = vec.reset(seed=0)
        vec.step(["x"] * 3)
        obs, r, term, trunc, info = vec.step(["x"] * 3)
        assert trunc.all() and not term.any()
        if mode == AutoresetMode.SAME_STEP:
            assert info["_final_obs"].all()
            assert info["final_info"]["steps"].tolist() == [2, 2, 2]
            assert info["steps"].tolist() == [0, 0, 0]
            assert info["final_info"]["action_status"].tolist() == ["unparsable"] * 3
        else:
            assert "final_obs" not in info and info["steps"].tolist() == [2, 2, 2]
            mask = np.array([True, False, True])
            before = vec.get_states([1])[0]
            obs2, info2 = vec.reset(options={"reset_mask": mask})
            assert info2["steps"].tolist() == [0, 2, 0]
            assert info2["_steps"].tolist() == [True, False, True]
            assert vec.get_states([1])[0] == before
            assert obs2[1] == obs[1]
        vec.close()


@pytest.mark.parametrize("env_id", IDS)
def test_sampler_draws_once(env_id, env_kwargs_for, monkeypatch):
    vec = make_vec(env_id, env_kwargs_for, 4)
    vec.reset(seed=0)
    calls = vec.engine.render_calls
    vec.random_steps(vec.game.sampler_steps or 10)
    assert vec.engine.render_calls == calls
    obs, _ = vec.observe()
    assert vec.engine.render_calls == calls + 1 and obs.shape[0] == 4
    sampled = vlmgym.sample_states(env_id, 3, seed=1, **env_kwargs_for.get(env_id, {}))
    again = vlmgym.sample_states(env_id, 3, seed=1, **env_kwargs_for.get(env_id, {}))
    assert sampled.states == again.states and np.array_equal(sampled.obs, again.obs)
    # the whole sampler (reset, K moves, observe) composes frames exactly once
    from vlmgym.envs.engine import Engine

    counted: list[int] = []
    original = Engine.frames

    def counting(self, batch):
        counted.append(len(batch["rng"]))
        return original(self, batch)

    monkeypatch.setattr(Engine, "frames", counting)
    vlmgym.sample_states(env_id, 5, seed=2, **env_kwargs_for.get(env_id, {}))
    assert counted == [5]


@pytest.mark.parametrize("env_id", IDS)
def test_images_are_multiples_of_28_and_paper_size_fits(env_id, env_kwargs_for):
    for kw in ({}, {"show_coords": True}, {"hud": True}, {"hud": False}):
        env = make(env_id, env_kwargs_for, **kw)
        obs, _ = env.reset(seed=0)
        assert obs.shape[0] % 28 == 0 and obs.shape[1] % 28 == 0, (kw, obs.shape)
        assert obs.dtype == np.uint8
    env = make(env_id, env_kwargs_for, image_size="paper")
    obs, _ = env.reset(seed=0)
    assert obs.shape == (840, 640, 3)
    with pytest.raises(ValueError, match="image_size"):
        make(env_id, env_kwargs_for, image_size=(10, 10))


@pytest.mark.parametrize("env_id", IDS)
def test_human_render_mode_headless(env_id, env_kwargs_for):
    pytest.importorskip("pygame")
    env = make(env_id, env_kwargs_for, render_mode="human")
    env.reset(seed=0)
    env.step("nothing")
    env.close()
    env.close()


@pytest.mark.parametrize("env_id", IDS)
def test_board_texts_and_render_states_match_live_observations(env_id, env_kwargs_for):
    vec = make_vec(env_id, env_kwargs_for, 3, obs_mode="image+text")
    obs, info = vec.reset(seed=9)
    states = vec.get_states()
    other = make_vec(env_id, env_kwargs_for, 1)
    assert other.board_texts(states) == list(info["board_text"])
    assert np.array_equal(other.render_states(states), obs["image"])
