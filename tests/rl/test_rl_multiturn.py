"""Multi-turn episodes through TRL's ``environment_factory`` on the tiny Qwen2.5-VL.

How generations are scripted here: TRL's ``rollout_func`` cannot script a multi-turn episode (TRL
generates every turn after a tool call itself, and images of later turns would not reach the
training forward pass), so the model is a :class:`ScriptedToolVLM`: a real tiny Qwen2.5-VL whose
``generate`` -- the one method TRL calls to sample (``_generate_single_turn``) -- answers from a
script instead of sampling. The script reads the decoded conversation (the game's board text, shown
with ``obs_mode="image+text"``, and how many tool results came back) and writes the next turn: a
tool call in the Qwen format, or a final reply. Everything else is TRL's own: the chat template,
tool-call parsing, calling the environment's tool, appending the tool result with its picture,
masking tool tokens, ``get_reward``, advantages, the forward pass with every board picture, and
the optimizer step.
"""

from __future__ import annotations

import json

import gymnasium as gym
import numpy as np
import pytest

pytest.importorskip("trl")

import torch  # noqa: E402
from transformers import Qwen2_5_VLForConditionalGeneration  # noqa: E402
from transformers.utils import get_json_schema  # noqa: E402

from vlmgym.games.game2048 import _line_merges, _lines  # noqa: E402
from vlmgym_rl.explain import board_cells  # noqa: E402
from vlmgym_rl.multiturn import (  # noqa: E402
    DEFAULT_SYSTEM_PROMPT,
    EpisodeMetrics,
    episode_dataset,
    episode_factories,
    episode_factory,
    use_tool_chat_template,
)

pytestmark = pytest.mark.rl

DIRS = ("up", "right", "down", "left")


def _grid(board_text):
    return np.array([[0 if c == "-" else int(c) for c in row] for row in board_cells(board_text)])


def _merging(grid):
    return [d for d in range(4) if any(_line_merges(line) for _, line in _lines(grid, d))]


class Script:
    """2048 episodes: turn 0 a merging move, turn 1 a move that does not merge, turn 2 a merging
    move, then a final reply without a tool call. The second completion of each group (the same
    first prompt seen again) plays merging moves only, so groups differ and advantages are not 0."""

    def __init__(self):
        self.first_prompts: dict[str, int] = {}
        self.turns = 0

    def __call__(self, text: str) -> str:
        turn = text.count("<tool_response>")
        board = text.rsplit("Current board:\n", 1)[1].split("<|im_end|>")[0].split("\n</tool_response>")[0]
        if turn == 0:  # the k-th rollout of a prompt gets variant k % 2, written into its first turn
            head = text.split("<|im_start|>assistant")[0]
            self.first_prompts[head] = self.first_prompts.get(head, -1) + 1
            variant = self.first_prompts[head] % 2
        else:
            variant = int(text.split("variant ", 1)[1][0])
        self.turns += 1
        if turn == 3:
            return "<think>three moves played</think><answer>done</answer>"
        good = _merging(_grid(board))
        bad = [d for d in range(4) if d not in good]
        choice = (bad or good)[0] if (turn == 1 and variant == 0) else (good or bad)[0]
        return (f"<perception>\n{board.strip()}\n</perception><think>turn {turn} variant {variant}</think>\n"
                f'<tool_call>\n{{"name": "move", "arguments": {{"direction": "{DIRS[choice]}"}}}}\n</tool_call>')


class ScriptedToolVLM(Qwen2_5_VLForConditionalGeneration):
    """The tiny Qwen2.5-VL whose ``generate`` answers from ``script`` (see the module docstring);
    its forward pass is the real one."""

    script: Script | None = None
    tokenizer = None

    def generate(self, input_ids=None, attention_mask=None, **kwargs):
        tok = self.tokenizer
        eos = tok.convert_tokens_to_ids("<|im_end|>")
        outs = []
        for ids, mask in zip(input_ids, attention_mask):
            reply = self.script(tok.decode(ids[mask.bool()]))
            outs.append(tok.encode(reply, add_special_tokens=False) + [eos])
        width = max(map(len, outs))
        new = torch.tensor([o + [tok.pad_token_id] * (width - len(o)) for o in outs], dtype=input_ids.dtype)
        return torch.cat([input_ids, new.to(input_ids.device)], dim=1)


def _replay(start_state, moves):
    """The rewards of the same moves played from the same state on a fresh env."""
    vec = gym.make_vec("VLMGym/2048-v0", num_envs=1, obs_mode="text", autoreset_mode="disabled")
    vec.set_states([start_state])
    rewards = []
    for m in moves:
        _, r, _, _, _ = vec.step([f"<answer>{m['answer']}</answer>"])
        rewards.append(float(r[0]))
    vec.close()
    return rewards


def test_multiturn_grpo_plays_several_moves_per_episode(tiny_vlm_dir, tmp_path):
    from trl import GRPOConfig, GRPOTrainer

    from tiny_vlm import load_tiny_vlm

    loaded, processor = load_tiny_vlm(tiny_vlm_dir)
    processor = use_tool_chat_template(processor)
    ScriptedToolVLM.script, ScriptedToolVLM.tokenizer = Script(), processor.tokenizer
    # (from_pretrained on a subclass would miss Qwen2.5-VL's checkpoint key conversion: copy the weights)
    model = ScriptedToolVLM(loaded.config)
    model.load_state_dict(loaded.state_dict())
    model.generation_config = loaded.generation_config
    pictures: list[int] = []  # pictures the vision tower encodes in each training forward pass

    def count(module, args, kwargs):
        if torch.is_grad_enabled():
            pictures.append(int((kwargs.get("grid_thw") if "grid_thw" in kwargs else args[1]).shape[0]))

    model.model.visual.register_forward_pre_hook(count, with_kwargs=True)
    before = {k: v.detach().clone() for k, v in model.named_parameters()}
    ds = episode_dataset("VLMGym/2048-v0", 4, max_moves=4, seed=1)
    factory = episode_factory("VLMGym/2048-v0", max_moves=4, obs_mode="image+text")
    cfg = GRPOConfig(output_dir=str(tmp_path / "mt"), use_cpu=True, bf16=False, report_to="none", max_steps=2,
                     per_device_train_batch_size=4, num_generations=2, max_completion_length=2048,
                     learning_rate=1e-2, logging_steps=1, save_strategy="no", gradient_checkpointing=False,
                     max_tool_calling_iterations=6, reward_weights=[0.0], disable_tqdm=True, beta=0.0)
    trainer = GRPOTrainer(model=model, processing_class=processor, reward_funcs=[EpisodeMetrics()], args=cfg,
                          train_dataset=ds, environment_factory=factory)
    trainer.train()
    logs = [h for h in trainer.state.log_history if "rewards/Game2048Episode/mean" in h]
    assert len(logs) == 2
    episodes = trainer.environments  # the last step's four rollouts
    assert len(episodes) == 4
    rewards = []
    for env in episodes:
        moves = env.history
        assert len(moves) == 3  # three tool calls in one completion, then a final reply
        replayed = _replay(env.start_state, moves)
        assert [m["reward"] for m in moves] == replayed
        assert env.get_reward() == sum(replayed)
        rewards.append(env.get_reward())
    last = logs[-1]
    # the episode rewards reached TRL: its reward column is exactly get_reward() of every rollout
    assert last["rewards/Game2048Episode/mean"] == pytest.approx(np.mean(rewards))
    assert last["reward"] == pytest.approx(np.mean(rewards))  # EpisodeMetrics has weight 0
    assert last["tools/call_frequency"] == 3.0 and last["tools/failure_frequency"] == 0.0
    assert last["vlmgym_episode/2048-v0/moves"] == 3.0
    assert last["rewards/episode_successes/mean"] == pytest.approx(np.mean([sum(m["success"] for m in e.history)
                                                                            for e in episodes]))
    # every turn's board picture (1 at reset + 3 tool results) reached the training forward pass
    assert pictures == [4 * 4, 4 * 4]  # 4 rollouts x 4 pictures, in each of the 2 steps
    # the completions differ inside groups, so the step trained (vision tower included)
    assert any(h["reward_std"] > 0 for h in logs)
    changed = [k for k, v in model.named_parameters() if not torch.equal(v.detach(), before[k])]
    assert len(changed) > len(before) // 2 and any("visual" in k for k in changed)
    # episodes of a group start from the same sampled state (reset with the row's seed and K moves)
    starts = [e.start_state.digest() for e in episodes]
    assert starts[0] == starts[1] and starts[2] == starts[3]


def test_episode_adapter_contract():
    Episode = episode_factory("VLMGym/2048-v0", max_moves=2)
    env = Episode()
    row = {"prompt": [], "env_id": "VLMGym/2048-v0", "env_kwargs": "{}", "seed": 5, "k": 10}
    first = env.reset(**row)
    assert [b["type"] for b in first] == ["image"] and first[0]["image"].size[0] > 0
    start = env.start_state
    vec = gym.make_vec("VLMGym/2048-v0", num_envs=1, obs_mode="text")
    vec.reset(seed=5)
    vec.random_steps(10)
    assert vec.get_states()[0].digest() == start.digest()  # seeded reset + K random moves, reproducible
    assert env.get_reward() == -1.0  # no move yet
    good = _merging(_grid(vec.board_texts([start])[0]))
    out = env.move(DIRS[good[0]] if good else "up")
    assert out[0]["type"] == "text" and out[0]["text"].startswith("Move 1 ") and out[1]["type"] == "image"
    env.move("sideways")
    assert env.history[1]["status"] == "unparsable" and env.finished
    with pytest.raises(ValueError, match="no moves left"):
        env.move("up")
    assert env.get_reward() == sum(m["reward"] for m in env.history)
    # a row that carries the state (and its picture, as G0 state datasets do) gets no second picture
    again = env.reset(prompt=[], env_id="VLMGym/2048-v0", env_kwargs="{}", state=start.to_bytes(), image=object())
    assert again is None and env.start_state.digest() == start.digest() and env.history == []
    with pytest.raises(ValueError, match="rows need a 'seed' or a 'state'"):
        env.reset(prompt=[], env_id="VLMGym/2048-v0")
    with pytest.raises(ValueError, match="plays VLMGym/2048-v0, but the row is for VLMGym/Swap-v0"):
        env.reset(env_id="VLMGym/Swap-v0", seed=1)
    # only reset, get_reward and the move tool are public methods (TRL turns public methods into tools)
    import inspect

    public = {n for n, _ in inspect.getmembers(Episode, predicate=inspect.isfunction) if not n.startswith("_")}
    assert public == {"reset", "get_reward", "move"}
    vec.close()


@pytest.mark.parametrize("env_id, tool, args", [
    ("VLMGym/2048-v0", "move", ["direction"]),
    ("VLMGym/Shisensho-v0", "remove_pair", ["row1", "col1", "row2", "col2"]),
    ("VLMGym/Swap-v0", "swap_tiles", ["row1", "col1", "row2", "col2"]),
    ("VLMGym/Sokoban-v0", "move", ["direction"]),
    ("VLMGym/Minesweeper-v0", "reveal", ["row", "col"]),  # and flag(row, col), a note that never succeeds
])
def test_each_game_has_a_documented_move_tool(env_id, tool, args):
    Episode = episode_factory(env_id, max_moves=3, obs_mode="image+text")
    env = Episode()
    schema = get_json_schema(getattr(env, tool))["function"]
    assert schema["name"] == tool and schema["parameters"]["required"] == args and schema["description"]
    first = env.reset(env_id=env_id, seed=0)
    assert [b["type"] for b in first] == ["image", "text"] and first[1]["text"].startswith("Current board:\n")
    if tool != "move" or env_id != "VLMGym/2048-v0":  # every legal move succeeds: play the first one
        state = env.start_state
        vec = gym.make_vec(env_id, num_envs=1, obs_mode="text")
        idx = int(np.flatnonzero(vec.legal_masks([state])[0])[0])
        action = vec.game.from_array(vec.game.decode(np.array([idx]))[0])
        args = ([DIRS[action]] if tool == "move" else [*action[1]] if tool == "reveal"  # a cell game: (verb, cell)
                else [*action[0], *action[1]])
        result = getattr(env, tool)(*args)
        assert "succeeded" in result[0]["text"] and env.get_reward() == 1.0
        vec.close()


def test_episode_dataset_and_factories_for_a_mixture():
    games = ["VLMGym/2048-v0", "VLMGym/Swap-v0"]
    ds = episode_dataset(games, 6, seed=3, max_moves=5)
    assert sorted(ds["environment"]) == ["2048-v0"] * 3 + ["Swap-v0"] * 3
    assert ds["seed"] == episode_dataset(games, 6, seed=3, max_moves=5)["seed"]
    row = ds[0]
    assert row["prompt"][0] == {"role": "system", "content": [{"type": "text", "text": DEFAULT_SYSTEM_PROMPT}]}
    text = row["prompt"][1]["content"][0]["text"]
    assert "up to 5 moves" in text and ("`move`" in text or "`swap_tiles`" in text)
    assert {r["k"] for r in ds if r["env_id"] == "VLMGym/2048-v0"} == {100}  # the paper's K
    factories = episode_factories(games, max_moves=5)
    assert sorted(factories) == ["2048-v0", "Swap-v0"]
    for r in ds:
        env = factories[r["environment"]]()
        assert env.reset(**{k: v for k, v in r.items() if k != "environment"})
    with pytest.raises(ValueError, match="unknown env id"):
        episode_factory("VLMGym/Nope-v0")
    with pytest.raises(ValueError, match="max_moves must be a positive integer"):
        episode_factory("VLMGym/2048-v0", max_moves=0)


def test_tool_chat_template_replaces_qwen25vl_template(tiny_vlm):
    from trl.chat_template_utils import qwen3_vl_chat_template, supports_tool_calling

    _, processor = tiny_vlm
    assert not supports_tool_calling(processor)  # Qwen2.5-VL's own template: TRL would refuse it
    assert use_tool_chat_template(processor) is processor
    assert supports_tool_calling(processor) and processor.chat_template == qwen3_vl_chat_template
    text = processor.apply_chat_template([
        {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "play"}]},
        {"role": "assistant", "content": [{"type": "text", "text": ""}],
         "tool_calls": [{"type": "function", "function": {"name": "move", "arguments": {"direction": "up"}}}]},
        {"role": "tool", "name": "move", "content": [{"type": "text", "text": "ok"}, {"type": "image"}]},
    ], tokenize=False)
    assert '<tool_call>\n{"name": "move", "arguments": {"direction": "up"}}\n</tool_call>' in text
    assert text.count("<|vision_start|><|image_pad|><|vision_end|>") == 2  # tool results carry pictures
    assert use_tool_chat_template(processor) is processor  # already able: unchanged
    json.dumps(get_json_schema(episode_factory("VLMGym/2048-v0")().move))  # the tool schema is JSON
