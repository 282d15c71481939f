"""An id of the user's own (``Mine/Small2048-v0``: vlmgym's entry points, 2048 of size 3) and a
game of the user's own (the documented Lights Out) work through the whole trainer plugin:
state datasets, GRPO rewards, the recipe's config, the oracle cold start (its reasoning text
included) with its SFT check, and multi-turn episodes."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from transformers.utils import get_json_schema

import vlmgym
from example_games import lights_out, small_2048
from vlmgym.core.answer import extract_block, perception_exact

pytest.importorskip("datasets")

from vlmgym_rl import G0Config  # noqa: E402
from vlmgym_rl.coldstart import build_coldstart_dataset  # noqa: E402
from vlmgym_rl.multiturn import episode_dataset, episode_factory, tool_name, tool_names  # noqa: E402
from vlmgym_rl.rewards import GameReward  # noqa: E402
from vlmgym_rl.sft import validate_coldstart_dataset  # noqa: E402
from vlmgym_rl.states import GameSpec, build_state_dataset  # noqa: E402

pytestmark = pytest.mark.rl

CPU = dict(use_cpu=True, bf16=False, report_to="none",
           min_pixels=None, max_pixels=None)  # the tiny processor keeps its own small bounds


def _columns(ds):
    return {k: list(ds[k]) for k in ("state", "env_id", "env_kwargs", "board_text")}


def test_user_id_datasets_rewards_and_config(tmp_path):
    env_id = small_2048()
    assert GameSpec(env_id).env_id == env_id
    ds = build_state_dataset(env_id, 6, seed=0)
    assert set(ds["env_id"]) == {env_id} and all(len(t.split("\n")) == 3 for t in ds["board_text"])
    vec = gym.make_vec(env_id, num_envs=1, obs_mode="text")
    states = [vlmgym.GameState.from_bytes(b) for b in ds["state"]]
    answers = [f"<answer>{int(np.flatnonzero(m)[0])}</answer>" for m in vec.legal_masks(states)]
    got = GameReward()(completions=[[{"role": "assistant", "content": a}] for a in answers], **_columns(ds))
    want, _ = vec.score(states, answers)
    assert got == [float(w) for w in want]
    cfg = G0Config(output_dir=str(tmp_path), env_ids=[env_id, "VLMGym/Swap-v0"], **CPU)
    assert [s.env_id for s in cfg.game_specs()] == [env_id, "VLMGym/Swap-v0"]
    cfg = G0Config(output_dir=str(tmp_path), env_ids=[env_id], env_kwargs={env_id: {"cell_px": 28}}, **CPU)
    assert cfg.game_specs()[0].env_kwargs == {"cell_px": 28}  # per-id kwargs recognise user ids too
    with pytest.raises(ValueError, match="unknown env id"):
        GameSpec("Mine/Nope-v0")


@pytest.mark.parametrize("make_id", [small_2048, lambda: lights_out() and "Example/LightsOut-v0"])
def test_user_ids_oracle_cold_start_is_verified(make_id, tmp_path):
    env_id = make_id()
    result = build_coldstart_dataset([env_id], 8, tmp_path / "cs", chunk_size=8)
    assert result.complete and len(result.dataset) == 8
    validate_coldstart_dataset(result.dataset)  # every answer re-scored by the env: all rewarded
    for row in result.dataset:
        text = row["completion"][0]["content"][0]["text"]
        assert perception_exact(text, row["board_text"]) and extract_block(text, "think").strip()
    if env_id == "Mine/Small2048-v0":  # the game's own explanation: every move checked
        assert "Checking every move:" in extract_block(text, "think")
    else:  # a game without one gets the generic text, checked by the env
        assert "succeeds" in extract_block(text, "think")


def test_user_game_multi_turn_tools():
    lights_out()
    env_id = "Example/LightsOut-v0"
    assert tool_name(env_id) == "press" and tool_names(env_id) == ["press"]
    Episode = episode_factory(env_id, max_moves=2)
    assert Episode.__name__ == "LightsOutEpisode"
    env = Episode()
    schema = get_json_schema(env.press)["function"]
    assert schema["name"] == "press" and schema["parameters"]["required"] == ["row", "col"]
    assert schema["parameters"]["properties"]["row"]["type"] == "integer" and schema["description"]
    first = env.reset(env_id=env_id, seed=0)
    assert [b["type"] for b in first] == ["image"]
    out = env.press(1, col=2)
    assert env.history[0]["answer"] == "(1, 2)" and env.history[0]["status"] == "ok" and out[0]["type"] == "text"
    with pytest.raises(TypeError):
        env.press(1)  # the tool's signature is enforced
    Small = episode_factory(small_2048(), max_moves=3)
    assert Small.__name__ == "Game2048Episode" and tool_names("Mine/Small2048-v0") == ["move"]
    mine = Small()
    mine.reset(env_id="Mine/Small2048-v0", seed=1, k=2)
    assert mine.start_state.rules["size"] == 3
    for direction in ("up", "right", "down"):
        mine.move(direction)
    assert [m["answer"] for m in mine.history] == ["up", "right", "down"] and mine.finished
    assert mine.get_reward() == sum(m["reward"] for m in mine.history)
    ds = episode_dataset([env_id, small_2048()], 4, max_moves=2)
    texts = {r["env_id"]: r["prompt"][1]["content"][0]["text"] for r in ds}
    assert "calling the tool `press`" in texts[env_id] and "calling the tool `move`" in texts["Mine/Small2048-v0"]
