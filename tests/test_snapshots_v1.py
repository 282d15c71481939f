"""Snapshots written by an older vlmgym (``tests/data/snapshots_v1``, see its script) still load,
describe the same board and step to the same next board with the current code."""

from __future__ import annotations

import json
from pathlib import Path

import gymnasium as gym
import pytest

from vlmgym import GameState

DATA = Path(__file__).parent / "data" / "snapshots_v1"
CASES = sorted(p.stem for p in DATA.glob("*.json"))


V1_IDS = {"VLMGym/2048-v0", "VLMGym/Shisensho-v0", "VLMGym/ShisenshoBase-v0", "VLMGym/ShisenshoCifar10-v0",
          "VLMGym/ShisenshoComposition-v0", "VLMGym/ShisenshoMoreShapesColors-v0", "VLMGym/ShisenshoMoreTiles-v0",
          "VLMGym/Swap-v0"}  # every id there was when the snapshots were saved


def test_every_v1_id_has_saved_snapshots_and_is_still_registered():
    import vlmgym

    saved = {json.loads((DATA / f"{c}.json").read_text())["env_id"] for c in CASES}
    assert saved == V1_IDS and len(CASES) == 3 * len(saved)
    assert set(vlmgym.registered_ids()) >= V1_IDS  # ids added later have no v1 snapshots, none may go


@pytest.mark.parametrize("case", CASES)
def test_old_snapshot_loads_and_steps_the_same(case, env_kwargs_for):
    meta = json.loads((DATA / f"{case}.json").read_text())
    blob = (DATA / f"{case}.bin").read_bytes()
    state = GameState.from_bytes(blob)
    assert state.to_bytes() == blob and state.digest() == meta["digest"]
    assert (int(state["score"]), int(state["steps"]), int(state["successes"])) == (
        meta["score"], meta["steps"], meta["successes"])
    env_id = meta["env_id"]
    env = gym.make(env_id, obs_mode="text", **env_kwargs_for.get(env_id, {}))
    obs, info = env.reset(options={"state": state})
    assert obs == info["board_text"] == meta["board_text"]
    assert info["score"] == meta["score"]
    obs, reward, terminated, _, info = env.step(meta["answer"])
    assert (reward, info["action_status"], terminated) == (
        meta["next_reward"], meta["next_status"], meta["next_terminated"])
    assert info["board_text"] == meta["next_board_text"] and info["score"] == meta["next_score"]
    env.close()
