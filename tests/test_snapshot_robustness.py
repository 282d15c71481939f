"""Snapshots: one error type, bounded work, and a state that loads stays loadable (issue 11).

``GameState.from_bytes`` is fuzzed from valid blobs of every registered id (truncations, bit
flips, byte overwrites, header JSON mutations: deep nesting, huge shapes, missing and mistyped
rule keys, huge class sizes, other games and dtypes) and must raise ``StateError`` and nothing
else; a mutated blob that still loads is stepped and must have successors that load. The entry
points that take states validate them (once per state object), and the step budget is the
state's ``steps`` in both envs.
"""

from __future__ import annotations

import json
import struct
import tracemalloc
from functools import cache

import gymnasium as gym
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import vlmgym
from vlmgym import GameState, StateError
from vlmgym.core import state as statemod
from vlmgym.core.game import COUNTER_MAX
from vlmgym.games.game2048 import Game2048

IDS = vlmgym.registered_ids()
_PREFIX = struct.Struct("<8sII")


@cache
def _vec(env_id: str, kwargs_json: str):
    vec = gym.make_vec(env_id, num_envs=3, obs_mode="text", **json.loads(kwargs_json))
    vec.reset(seed=1)
    vec.random_steps(4)
    return vec


def _split(blob: bytes) -> tuple[dict, bytes]:
    _, _, n = _PREFIX.unpack_from(blob)
    return json.loads(blob[_PREFIX.size:_PREFIX.size + n]), blob[_PREFIX.size + n:]


def _join(header_text: bytes, payload: bytes) -> bytes:
    return _PREFIX.pack(b"VLMGYMS\x00", 1, len(header_text)) + header_text + payload


def _deep(depth: int) -> str:
    return "[" * depth + "]" * depth


_JUNK = st.one_of(st.none(), st.booleans(), st.integers(-10**30, 10**30), st.floats(), st.text(max_size=5),
                  st.lists(st.integers(-3, 10**9), max_size=4), st.dictionaries(st.text(max_size=3), st.integers(), max_size=2))


@st.composite
def _mutated(draw, blob: bytes) -> bytes:
    header, payload = _split(blob)
    kind = draw(st.sampled_from(["truncate", "flip", "overwrite", "rules", "arrays", "raw", "game"]))
    if kind == "truncate":
        return blob[:draw(st.integers(0, len(blob) - 1))]
    if kind == "flip":
        b = bytearray(blob)
        for _ in range(draw(st.integers(1, 8))):
            i = draw(st.integers(0, len(b) - 1))
            b[i] ^= 1 << draw(st.integers(0, 7))
        return bytes(b)
    if kind == "overwrite":
        b = bytearray(blob)
        i = draw(st.integers(0, len(b) - 1))
        chunk = draw(st.binary(min_size=1, max_size=16))
        b[i:i + len(chunk)] = chunk
        return bytes(b)
    if kind == "game":
        header["game"] = draw(st.sampled_from(["2048", "swap", "shisensho", "nope", ""]))
    elif kind == "rules":
        rules = header["rules"]
        key = draw(st.sampled_from(sorted(rules) + ["extra"]))
        if draw(st.booleans()) and key in rules:
            del rules[key]
        else:
            rules[key] = draw(st.one_of(_JUNK, st.just([10**9] * 10), st.just(list(range(10**4)))))
        if "class_sizes" in rules and draw(st.booleans()):
            classes = rules.get("classes")
            rules["class_sizes"] = [10**9] * (len(classes) if isinstance(classes, list) and classes else 1)
    elif kind == "arrays":
        entry = draw(st.sampled_from(header["arrays"]))
        field = draw(st.sampled_from(["shape", "dtype", "name", "drop", "repeat"]))
        if field == "shape":
            entry["shape"] = draw(st.one_of(st.just([65536] * 8), st.just([2**40]), st.just([-1]), st.just([1.0]),
                                            st.just(["2"]), st.just([True]), st.lists(st.integers(0, 70000), max_size=9),
                                            _JUNK))
        elif field == "dtype":
            entry["dtype"] = draw(st.sampled_from(["<f8", "|u1", "<i8", "|b1", "<f16", "O", "|V8", "<U4", 3]))
        elif field == "name":
            entry["name"] = draw(st.one_of(st.text(max_size=4), _JUNK))
        elif field == "drop":
            header["arrays"].remove(entry)
        else:
            header["arrays"].append(dict(entry))
    else:  # raw header text: deep nesting, huge numbers, broken JSON
        text = json.dumps(header)
        raw = draw(st.sampled_from([
            text.replace('"rules": {', f'"rules": {{"x": {_deep(draw(st.integers(33, 200_000)))}, ', 1),
            text.replace('"arrays": [', f'"arrays": [{_deep(50)}, ', 1),
            text.replace('"rules": {', '"rules": {"n": 1' + "0" * 5000 + ", ", 1),
            text.replace('"rules": {', '"rules": {"n": 1e400, "m": NaN, ', 1),
            text[: len(text) // 2], text + "x", "\udcff".join(text.split(":", 1)),
        ]))
        return _join(raw.encode("utf-8", "surrogateescape"), payload)
    return _join(json.dumps(header).encode(), payload)


def _step_and_reload(vec, state: GameState) -> None:
    """Successors of a state that loaded (with this env's rules) load as well."""
    mask = vec.legal_masks([state])[0]
    picks = np.flatnonzero(mask)[:8].tolist() + np.flatnonzero(~mask)[:2].tolist()
    answers = [f"<answer>{a}</answer>" for a in vec.game.index_answers(np.array(picks, dtype=np.int64))] + ["x"]
    _, infos = vec.score([state] * len(answers), answers, return_states=True)
    for nxt in infos["next_state"]:
        assert GameState.from_bytes(nxt.to_bytes()) == nxt


@pytest.mark.parametrize("env_id", IDS)
def test_from_bytes_raises_only_state_error_for_mutated_blobs(env_id, env_kwargs_for):
    vec = _vec(env_id, json.dumps(env_kwargs_for.get(env_id, {}), sort_keys=True))
    blobs = [s.to_bytes() for s in vec.get_states()]

    @settings(max_examples=80)
    @given(st.sampled_from(blobs).flatmap(_mutated))
    def fuzz(blob):
        try:
            state = GameState.from_bytes(blob)
        except StateError:
            return
        if state.game == vec.game.name and state.rules == vec.engine.rules:
            _step_and_reload(vec, state)

    fuzz()


@pytest.mark.parametrize("make_blob, match", [
    # each used to escape as another exception type, or to allocate first
    (lambda h, p: _join(json.dumps(h).replace('"rules": {', f'"rules": {{"x": {_deep(100_000)}, ', 1).encode(), p),
     "header is corrupt"),
    (lambda h, p: _join(json.dumps(h).replace('"rules": {', f'"rules": {{"x": {_deep(40)}, ', 1).encode(), p),
     "nested deeper than 32"),
    (lambda h, p: _join(json.dumps({**h, "arrays": [{**h["arrays"][0], "shape": [65536] * 8}]}).encode(), p),
     "needs .* bytes but the snapshot is truncated"),
    # an empty array whose other sides overflow numpy's size (found by the fuzz test in a fresh clone)
    (lambda h, p: _join(json.dumps({**h, "arrays": [{**h["arrays"][0], "shape": [0] + [65536] * 7}]}).encode(), p),
     "empty shape .* too large"),
    (lambda h, p: _join(json.dumps({**h, "rules": {k: v for k, v in h["rules"].items() if k != "tiles"}}).encode(), p),
     "rules\\['tiles'\\] must be 'shapes' or 'images'"),
    (lambda h, p: _join(json.dumps({**h, "rules": {k: v for k, v in h["rules"].items() if k != "colors"}}).encode(), p),
     "shapes rules must have the keys"),
    (lambda h, p: _join(json.dumps({**h, "rules": {**h["rules"], "colors": 7}}).encode(), p),
     "rules\\['colors'\\] must list distinct names"),
    (lambda h, p: _join(json.dumps({**h, "rules": {**h["rules"], "rows": "6"}}).encode(), p), "rows must be an integer"),
    (lambda h, p: _join(json.dumps({**h, "rules": {**h["rules"], "types": None}}).encode(), p), "types must be an integer"),
])
def test_the_issues_snapshot_examples_are_state_errors(make_blob, match):
    env = gym.make("VLMGym/Shisensho-v0", obs_mode="text")
    env.reset(seed=0)
    header, payload = _split(env.unwrapped.get_state().to_bytes())
    with pytest.raises(StateError, match=match):
        GameState.from_bytes(make_blob(header, payload))


@pytest.mark.parametrize("mutate", [
    lambda h: h["arrays"][0].update(name="x" * 500_000),
    lambda h: h["arrays"][0].update(dtype="x" * 500_000),
    lambda h: h.update(game="x" * 500_000),
    lambda h: h["rules"].update(rows=list(range(90_000))),
    lambda h: h["arrays"].extend({"name": f"f{i}", "dtype": "|u1", "shape": []} for i in range(20_000)),
])
def test_error_messages_stay_short_whatever_the_header_holds(mutate):
    env = gym.make("VLMGym/2048-v0", obs_mode="text")
    env.reset(seed=0)
    header, payload = _split(env.unwrapped.get_state().to_bytes())
    mutate(header)
    extra = b"\x00" * sum(1 for e in header["arrays"] if e["name"].startswith("f"))
    with pytest.raises(StateError) as err:
        GameState.from_bytes(_join(json.dumps(header).encode(), payload + extra))
    assert len(str(err.value)) < 1000


def test_huge_class_sizes_are_refused_before_allocating(env_kwargs_for):
    env = gym.make("VLMGym/ShisenshoCifar10-v0", obs_mode="text", **env_kwargs_for["VLMGym/ShisenshoCifar10-v0"])
    env.reset(seed=0)
    header, payload = _split(env.unwrapped.get_state().to_bytes())
    header["rules"]["class_sizes"] = [10**9] * len(header["rules"]["classes"])
    blob = _join(json.dumps(header).encode(), payload)
    assert len(blob) < 1000  # a ~700-byte blob that used to allocate gigabytes
    tracemalloc.start()
    try:
        with pytest.raises(StateError, match="class size must be an integer from 4 to 1000"):
            GameState.from_bytes(blob)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4 << 20, f"{peak >> 20} MiB allocated before refusing"


# -- a state that loads has successors that load ------------------------------------------------------
def test_the_largest_2048_tile_does_not_merge_so_successors_load():
    env = gym.make("VLMGym/2048-v0", obs_mode="text", action_mode="index")
    env.reset(seed=0)
    board = np.zeros((4, 4), np.uint8)
    board[0, :2] = 17  # the largest tile twice: merging would make 2**18, which no 4x4 state may hold
    board[1, :2] = 16
    env.reset(options={"state": env.unwrapped.make_state(board=board)})
    _, _, _, _, info = env.step(3)  # left: the 16s merge into a third 17, the two 17s stay
    after = env.unwrapped.get_state()
    assert after["board"][0, :2].tolist() == [17, 17] and after["board"][1, 0] == 17 and info["gain"] == 2**17
    assert GameState.from_bytes(after.to_bytes()) == after
    full = env.unwrapped.make_state(board=np.full((4, 4), 17, np.uint8))
    assert env.unwrapped.is_terminal(full)  # nothing can move or merge
    for size in (3, 8):
        game = Game2048(size)
        assert game.max_exponent == min(size * size + 1, 57)


@pytest.mark.parametrize("env_id", ["VLMGym/2048-v0", "VLMGym/Swap-v0", "VLMGym/Shisensho-v0"])
def test_counters_saturate_at_their_limit(env_id):
    vec = gym.make_vec(env_id, num_envs=1, obs_mode="text", action_mode="index")
    vec.reset(seed=0)
    vec.random_steps(20)  # 2048: a board with a pair to merge
    s = vec.get_states()[0]
    top = GameState(s.game, s.rules, {**s.arrays, "score": np.int64(COUNTER_MAX), "steps": np.int64(COUNTER_MAX),
                                      "successes": np.int64(COUNTER_MAX - 1)})
    legal = np.flatnonzero(vec.legal_masks([top])[0])[:20]
    _, infos = vec.score([top] * len(legal), legal, return_states=True)
    assert infos["success"].any()
    for success, after in zip(infos["success"], infos["next_state"]):
        assert int(after["score"]) == int(after["steps"]) == COUNTER_MAX  # saturated, not wrapped
        assert int(after["successes"]) == COUNTER_MAX - 1 + bool(success)
        assert GameState.from_bytes(after.to_bytes()) == after
    over = GameState(s.game, s.rules, {**s.arrays, "steps": np.int64(COUNTER_MAX + 1)})
    with pytest.raises(StateError, match=r"must be in 0..4611686018427387903"):
        GameState.from_bytes(over.to_bytes())


# -- every entry point validates, once per state object ----------------------------------------------------
def _invalid_2048(s: GameState) -> GameState:
    board = np.array(s["board"])
    board[0, 0] = 30  # no 4x4 board holds 2**30
    return GameState(s.game, s.rules, {**s.arrays, "board": board})


def test_every_entry_point_refuses_states_from_bytes_would_refuse():
    env = gym.make("VLMGym/2048-v0", obs_mode="text")
    env.reset(seed=0)
    vec = gym.make_vec("VLMGym/2048-v0", num_envs=2, obs_mode="text")
    vec.reset(seed=0)
    bad = _invalid_2048(env.unwrapped.get_state())
    with pytest.raises(StateError, match="exceeds the largest tile"):
        GameState.from_bytes(bad.to_bytes())
    for enter in (lambda: env.unwrapped.set_state(bad), lambda: env.reset(options={"state": bad}),
                  lambda: vec.set_states([bad, bad]), lambda: vec.reset(options={"states": [bad, bad]}),
                  lambda: vec.score([bad], ["<answer>1</answer>"]), lambda: vec.legal_masks([bad]),
                  lambda: env.unwrapped.board_text(bad), lambda: vec.render_states([bad])):
        with pytest.raises(StateError, match="exceeds the largest tile"):
            enter()
    with pytest.raises(StateError, match="exceeds the largest tile"):
        env.unwrapped.make_state(board=bad["board"])


def test_states_are_validated_once_per_object(monkeypatch):
    vec = gym.make_vec("VLMGym/2048-v0", num_envs=4, obs_mode="text")
    vec.reset(seed=0)
    calls = []
    original = statemod.validate_state
    monkeypatch.setattr(statemod, "validate_state", lambda s: (calls.append(s), original(s))[1])
    own = vec.get_states()  # made by the env: already known valid
    rebuilt = [GameState(s.game, s.rules, s.arrays) for s in own]  # the constructor validates nothing
    answers = ["<answer>1</answer>"] * 20
    vec.score([s for s in own for _ in range(5)], answers)
    assert calls == []
    vec.score([s for s in rebuilt for _ in range(5)], answers)
    assert len(calls) == 4  # once per object, not per answer
    vec.score([s for s in rebuilt for _ in range(5)], answers)
    vec.set_states(rebuilt)
    assert len(calls) == 4


# -- one step budget: the state's steps -------------------------------------------------------------
def _step_until_truncated(env, limit=200):
    for k in range(1, limit):
        _, _, term, trunc, _ = env.step("no idea")
        if term or trunc:
            return k
    return None


def test_single_and_vector_envs_share_one_step_budget():
    env = gym.make("VLMGym/Swap-v0", obs_mode="text")
    assert env.spec.max_episode_steps == 100 and env.spec.kwargs["max_episode_steps"] == 100
    assert gym.spec("VLMGym/Swap-v0").max_episode_steps is None  # no Gymnasium TimeLimit wrapper
    wrapper = env
    while hasattr(wrapper, "env"):
        assert not isinstance(wrapper, gym.wrappers.TimeLimit)
        wrapper = wrapper.env
    env.reset(seed=0)
    s = env.unwrapped.get_state()
    at90 = GameState(s.game, s.rules, {**s.arrays, "steps": np.int64(90)})
    env.reset(options={"state": at90})
    assert _step_until_truncated(env) == 10
    env.unwrapped.set_state(at90)
    assert _step_until_truncated(env) == 10
    vec = gym.make_vec("VLMGym/Swap-v0", num_envs=2, obs_mode="text", autoreset_mode="disabled")
    assert vec.max_episode_steps == 100
    vec.reset(options={"states": [at90, s]})
    for k in range(1, 11):
        _, _, term, trunc, _ = vec.step(["x", "x"])
        assert trunc.tolist() == [k == 10, False] and not term.any()
    unlimited = gym.make_vec("VLMGym/Swap-v0", num_envs=1, obs_mode="text", max_episode_steps=None)
    unlimited.reset(options={"states": [at90]})
    assert not any(unlimited.step(["x"])[3][0] for _ in range(20))
    plain = gym.make("VLMGym/2048-v0", obs_mode="text")
    assert plain.spec.max_episode_steps is None and plain.unwrapped.engine.max_episode_steps is None


def test_gym_make_max_episode_steps_is_gymnasiums_time_limit_on_top():
    # gym.make keeps max_episode_steps for its own TimeLimit (steps since reset); the env's budget,
    # on the state's steps, still applies underneath: the episode ends at whichever comes first
    env = gym.make("VLMGym/Swap-v0", obs_mode="text", max_episode_steps=5)
    assert env.spec.max_episode_steps == 5 and env.unwrapped.spec.max_episode_steps == 100
    env.reset(seed=0)
    assert _step_until_truncated(env) == 5
    s = env.unwrapped.get_state()
    env.reset(options={"state": GameState(s.game, s.rules, {**s.arrays, "steps": np.int64(98)})})
    assert _step_until_truncated(env) == 2


def test_register_env_puts_the_budget_in_the_kwargs():
    vlmgym.register_env("Test/Budget2048-v0", game="2048", max_episode_steps=3)
    try:
        env = gym.make("Test/Budget2048-v0", obs_mode="text")
        env.reset(seed=0)
        assert env.spec.max_episode_steps == 3 and _step_until_truncated(env) == 3
        assert gym.make_vec("Test/Budget2048-v0", num_envs=2).max_episode_steps == 3
    finally:
        del gym.registry["Test/Budget2048-v0"]
