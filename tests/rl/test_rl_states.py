"""State datasets: rows, reproducible sampling, streams, mixtures, on-policy states, bad input."""

from __future__ import annotations

import copy
import itertools
import json
import pickle

import gymnasium as gym
import numpy as np
import pytest

import vlmgym
from conftest import BASE_IDS

pytest.importorskip("datasets")

from vlmgym_rl.rewards import GameReward  # noqa: E402
from vlmgym_rl.states import (  # noqa: E402
    COLUMNS,
    GameSpec,
    OnPolicyPool,
    StateSampler,
    as_game_specs,
    build_state_dataset,
    stream_state_dataset,
)

pytestmark = pytest.mark.rl


def take(ds, n):
    return list(itertools.islice(iter(ds), n))


@pytest.mark.parametrize("env_id", BASE_IDS)
def test_rows_hold_prompt_image_and_the_exact_state(env_id):
    ds = build_state_dataset(env_id, 6, seed=3)
    assert ds.column_names == list(COLUMNS) and len(ds) == 6
    vec = gym.make_vec(env_id, num_envs=1, obs_mode="image")
    for row in ds:
        state = vlmgym.GameState.from_bytes(row["state"])
        assert row["state_id"] == state.digest() and row["env_id"] == env_id
        assert json.loads(row["env_kwargs"]) == {} and row["source"] == "sampled"
        vec.set_states([state])
        obs, info = vec.observe()
        assert row["board_text"] == info["board_text"][0]
        assert np.array_equal(np.asarray(row["image"].convert("RGB")), obs[0])  # PNG round trip is lossless
        (user,) = row["prompt"]
        assert user["role"] == "user" and [b["type"] for b in user["content"]] == ["image", "text"]
        assert user["content"][1]["text"] == info["prompt"][0]
    vec.close()


def test_sampling_is_seeded_and_takes_k_random_moves():
    a = build_state_dataset("VLMGym/2048-v0", 8, seed=1)
    b = build_state_dataset("VLMGym/2048-v0", 8, seed=1)
    c = build_state_dataset("VLMGym/2048-v0", 8, seed=2)
    assert a["state_id"] == b["state_id"] and set(a["state_id"]).isdisjoint(c["state_id"])
    sampler = StateSampler(GameSpec("VLMGym/2048-v0", k=5))
    states = sampler.sample(0, 4, seed=11)
    assert [int(s["steps"]) for s in states] == [5] * 4  # 5 moves cannot end a fresh 2048 game
    # the same as resetting env i with seed 11 + i and making 5 uniformly random moves
    vec = gym.make_vec("VLMGym/2048-v0", num_envs=4, obs_mode="text")
    vec.reset(seed=11)
    vec.random_steps(5)
    assert vec.get_states() == states
    assert [int(s["steps"]) for s in StateSampler(GameSpec("VLMGym/2048-v0", k=0)).sample(0, 3, 0)] == [0] * 3


@pytest.mark.parametrize("env_id", BASE_IDS)
def test_sampling_128_states_with_k250_draws_once(env_id):
    sampler = StateSampler(GameSpec(env_id, k=250))
    states = sampler.sample(0, 128, seed=0)
    assert sampler.render_calls == 0 and sampler.frames_composed == 0  # reset and 250 random moves draw nothing
    rows = sampler.rows(0, states)
    assert sampler.render_calls == 1 and len(rows) == 128
    assert sampler.frames_composed == 128  # one batch: a frame per state, nothing else
    assert len({r["state_id"] for r in rows}) > 100


def test_stream_is_endless_deterministic_and_fresh():
    ds = stream_state_dataset("VLMGym/2048-v0", seed=5, chunk_size=4)
    first = [r["state_id"] for r in take(ds, 12)]
    again = [r["state_id"] for r in take(ds, 12)]
    assert first == again  # iterating again (or resuming and skipping) gives the same stream
    assert len(set(first)) == 12  # three chunks of fresh states
    other = [r["state_id"] for r in take(stream_state_dataset("VLMGym/2048-v0", seed=6, chunk_size=4), 12)]
    assert set(first).isdisjoint(other)
    assert ds.vlmgym_stats["render_calls"] >= 3 and ds.vlmgym_stats["states"] >= 12
    assert copy.deepcopy(ds.vlmgym_stats) is ds.vlmgym_stats


def test_mixture_follows_the_weights_in_every_chunk_and_in_fixed_datasets():
    games = [GameSpec("VLMGym/2048-v0", weight=3.0), GameSpec("VLMGym/2048-v0", {"size": 5}, weight=1.0)]
    if len(BASE_IDS) > 1:
        games[1] = GameSpec(BASE_IDS[1], weight=1.0)
    rows = take(stream_state_dataset(games, seed=0, chunk_size=8), 24)
    for c in range(3):
        chunk = rows[8 * c: 8 * c + 8]
        kinds = [(r["env_id"], r["env_kwargs"]) for r in chunk]
        assert kinds.count(games[0].config_key) == 6 and kinds.count(games[1].config_key) == 2
    fixed = build_state_dataset(games, 10, seed=0)
    kinds = list(zip(fixed["env_id"], fixed["env_kwargs"]))
    assert kinds.count(games[0].config_key) == 8 and kinds.count(games[1].config_key) == 2
    assert kinds != sorted(kinds)  # interleaved, not one game after the other
    equal = build_state_dataset({g: 1.0 for g in BASE_IDS}, 4 * len(BASE_IDS), seed=0)
    assert sorted(set(equal["env_id"])) == BASE_IDS


def test_image_text_mode_appends_the_board_text():
    (row,) = take(stream_state_dataset(GameSpec("VLMGym/2048-v0", obs_mode="image+text"), chunk_size=1), 1)
    text = row["prompt"][0]["content"][1]["text"]
    assert text.endswith("Current board:\n" + row["board_text"])
    (row,) = build_state_dataset("VLMGym/2048-v0", 1, system_prompt="Be brief.")
    assert row["prompt"][0] == {"role": "system", "content": [{"type": "text", "text": "Be brief."}]}


def test_on_policy_pool_feeds_states_advanced_by_the_policys_moves():
    pool = OnPolicyPool(fraction=0.5, capacity=16)
    ds = stream_state_dataset("VLMGym/2048-v0", seed=0, chunk_size=4, on_policy=pool)
    it = iter(ds)
    rows = [next(it) for _ in range(4)]
    assert all(r["source"] == "sampled" for r in rows)  # the pool is empty at first
    reward = GameReward(on_policy=pool)
    answers = ["junk", "<answer>0</answer>", "<answer>1</answer>", "<answer>2</answer>"]
    group = [r for r in rows for _ in answers]
    names = ("state", "env_id", "env_kwargs", "board_text", "source", "policy_steps")
    reward(completions=answers * len(rows), **{k: [r[k] for r in group] for k in names})
    # expected: per state, the state after the first legal answer of its group
    vec = gym.make_vec("VLMGym/2048-v0", num_envs=1, obs_mode="text")
    expected = set()
    for r in rows:
        state = vlmgym.GameState.from_bytes(r["state"])
        for a in answers:
            _, info = vec.score([state], [a], return_states=True)
            if info["action_status"][0] == "ok":
                expected.add(info["next_state"][0].digest())
                break
    assert {vlmgym.GameState.from_bytes(item[2]).digest() for item in pool._items} == expected
    pushed = len(pool)
    assert pushed == len(expected) > 0
    fresh = [next(it) for _ in range(4)]  # the next chunk: half from the pool, newest first
    on = [r for r in fresh if r["source"] == "on_policy"]
    assert len(on) == min(2, pushed) and all(r["policy_steps"] == 1 for r in on)
    assert {r["state_id"] for r in on} <= expected
    assert copy.deepcopy(pool) is pool and pickle.loads(pickle.dumps(pool)) is pool
    # the next generation goes one move further
    reward(completions=[a for _ in on for a in answers], **{k: [r[k] for r in on for _ in answers] for k in names})
    assert {item[3] for item in list(pool._items)[-len(on):]} == {2}


@pytest.mark.parametrize("bad, message", [
    (lambda: GameSpec("VLMGym/Nope-v0"), "unknown env id 'VLMGym/Nope-v0'; registered ids"),
    (lambda: GameSpec("VLMGym/2048-v0", {"obs_mode": "text"}), "may not set ['obs_mode']"),
    (lambda: GameSpec("VLMGym/2048-v0", weight=0), "weight for VLMGym/2048-v0 must be a positive"),
    (lambda: GameSpec("VLMGym/2048-v0", k=-1), "k for VLMGym/2048-v0 must be a non-negative"),
    (lambda: GameSpec("VLMGym/2048-v0", obs_mode="text"), "obs_mode for VLMGym/2048-v0 must be one of"),
    (lambda: GameSpec("VLMGym/2048-v0", {"size": object()}), "must be JSON data"),
    (lambda: build_state_dataset("VLMGym/2048-v0", 4, seed=-1), "seed must be a non-negative"),
    (lambda: build_state_dataset("VLMGym/2048-v0", 0), "num_states must be a positive integer"),
    (lambda: stream_state_dataset("VLMGym/2048-v0", chunk_size=0), "chunk_size must be a positive"),
    (lambda: as_game_specs(["VLMGym/2048-v0", "VLMGym/2048-v0"]), "listed twice"),
    (lambda: OnPolicyPool(fraction=2.0), "fraction must be in [0, 1]"),
])
def test_bad_input_fails_with_a_clear_message(bad, message):
    with pytest.raises((ValueError, TypeError)) as err:
        bad()
    assert message in str(err.value)


def test_bad_env_kwargs_fail_when_the_stream_is_made_not_when_it_is_read():
    with pytest.raises(ValueError, match="cannot build VLMGym/2048-v0 with env_kwargs {'size': 99}"):
        stream_state_dataset(GameSpec("VLMGym/2048-v0", {"size": 99}))
    with pytest.raises(ValueError, match="cannot build"):
        build_state_dataset(GameSpec("VLMGym/2048-v0", {"colours": 3}), 2)
