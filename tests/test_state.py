"""GameState snapshots: immutability, byte round trips, and clear errors for corrupt bytes."""

from __future__ import annotations

import contextlib
import json
import struct

import gymnasium as gym
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import vlmgym  # noqa: F401
from vlmgym import GameState, StateError


@pytest.fixture()
def state() -> GameState:
    env = gym.make("VLMGym/2048-v0")
    env.reset(seed=4)
    env.step("<answer>1</answer>")
    return env.unwrapped.get_state()


def test_round_trip_is_exact(state):
    blob = state.to_bytes()
    back = GameState.from_bytes(blob)
    assert back == state and back.to_bytes() == blob
    assert GameState.from_bytes(bytearray(blob)) == state
    assert GameState.from_bytes(memoryview(blob)) == state
    assert set(state.arrays) == {"board", "rng", "score", "steps", "successes"}
    assert state.arrays["rng"].dtype == np.uint64


def test_immutable(state):
    with pytest.raises(AttributeError):
        state.game = "x"
    with pytest.raises(ValueError):
        state["board"][0, 0] = 3
    with pytest.raises(TypeError):
        state.arrays["board"] = np.zeros((4, 4))


def test_hash_and_digest_follow_content(state):
    other = GameState(state.game, state.rules, dict(state.arrays))
    assert hash(other) == hash(state) and other.digest() == state.digest()
    changed = GameState(state.game, state.rules, dict(state.arrays, steps=np.int64(99)))
    assert changed != state and changed.digest() != state.digest()


def _header(blob: bytes) -> tuple[dict, int]:
    _, _, n = struct.unpack_from("<8sII", blob)
    return json.loads(blob[16 : 16 + n]), 16 + n


def _rebuild(header: dict, payload: bytes) -> bytes:
    head = json.dumps(header).encode()
    return struct.pack("<8sII", b"VLMGYMS\x00", 1, len(head)) + head + payload


@pytest.mark.parametrize("mutate,match", [
    (lambda b: b[:10], "too short"),
    (lambda b: b"XXXXXXXX" + b[8:], "magic"),
    (lambda b: b[:8] + struct.pack("<I", 7) + b[12:], "version 7"),
    (lambda b: b[:12] + struct.pack("<I", 10**6) + b[16:], "header length"),
    (lambda b: b[:-3], "truncated|trailing"),
    (lambda b: b + b"\x00", "trailing"),
    (lambda b: b[:16] + b"[" + b[17:], "header is corrupt"),
    (lambda b: b[:16] + b"\xff" + b[17:], "header is corrupt"),
])
def test_corrupt_bytes_raise_clear_errors(state, mutate, match):
    with pytest.raises(StateError, match=match):
        GameState.from_bytes(mutate(state.to_bytes()))


def test_semantic_errors(state):
    blob = state.to_bytes()
    header, start = _header(blob)
    payload = blob[start:]
    h = json.loads(json.dumps(header))
    h["game"] = "chess"
    with pytest.raises(StateError, match="unknown game 'chess'"):
        GameState.from_bytes(_rebuild(h, payload))
    h = json.loads(json.dumps(header))
    h["arrays"][0]["dtype"] = "<c16"
    with pytest.raises(StateError, match="unsupported dtype"):
        GameState.from_bytes(_rebuild(h, payload))
    h = json.loads(json.dumps(header))
    h["rules"]["size"] = 5
    with pytest.raises(StateError, match="shape"):
        GameState.from_bytes(_rebuild(h, payload))
    h = json.loads(json.dumps(header))
    h["arrays"] = h["arrays"][1:]
    with pytest.raises(StateError):
        GameState.from_bytes(_rebuild(h, payload))
    negative = GameState(state.game, state.rules, dict(state.arrays, score=np.int64(-5)))
    with pytest.raises(StateError, match="score"):
        GameState.from_bytes(negative.to_bytes())
    with pytest.raises(TypeError):
        GameState.from_bytes("not bytes")  # type: ignore[arg-type]


@given(st.binary(max_size=400))
def test_random_bytes_never_crash_unexpectedly(blob):
    with contextlib.suppress(StateError):
        GameState.from_bytes(blob)


@given(st.data())
def test_bit_flips_give_state_error_or_valid_state(state_data):
    env = gym.make("VLMGym/2048-v0")
    env.reset(seed=1)
    blob = bytearray(env.unwrapped.get_state().to_bytes())
    i = state_data.draw(st.integers(0, len(blob) - 1))
    blob[i] ^= 1 << state_data.draw(st.integers(0, 7))
    try:
        s = GameState.from_bytes(bytes(blob))
    except StateError:
        return
    env.unwrapped.set_state(s)  # a valid state must be usable
    env.step("<answer>0</answer>")


def test_set_state_rejects_other_rules(state):
    env = gym.make("VLMGym/2048-v0", size=5)
    env.reset(seed=0)
    with pytest.raises(StateError, match="rules"):
        env.unwrapped.set_state(state)
    with pytest.raises(TypeError):
        env.unwrapped.set_state(state.to_bytes())  # type: ignore[arg-type]


def test_reset_from_state_option(state):
    env = gym.make("VLMGym/2048-v0", obs_mode="text")
    obs, info = env.reset(options={"state": state})
    assert env.unwrapped.get_state() == state
    with pytest.raises(ValueError, match="unknown reset options"):
        env.reset(options={"bogus": 1})
