"""Real GRPOTrainer steps on the tiny Qwen2.5-VL: training, logged rewards, streams, resume, callback.

Generations are scripted through TRL's public ``rollout_func`` (see ``rl_helpers.ScriptedRollout``)
so that every step has successes and failures to learn from and the expected rewards are known;
one test samples real generations from the model instead.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
from rl_helpers import ScriptedRollout

import vlmgym
from conftest import BASE_IDS

pytest.importorskip("trl")

from transformers import TrainerCallback  # noqa: E402

from vlmgym.core.answer import format_ok, perception_exact  # noqa: E402
from vlmgym_rl import G0Config, build_g0_trainer, stream_state_dataset, train_g0  # noqa: E402
from vlmgym_rl.states import build_state_dataset  # noqa: E402

pytestmark = pytest.mark.rl

METRICS = ("vlmgym/valid_action_rate", "vlmgym/unparsable_rate", "vlmgym/malformed_rate", "vlmgym/P_acc",
           "vlmgym/perception_cell_acc", "vlmgym/R_acc", "vlmgym/format_rate", "vlmgym/localization_rate",
           "rewards/game_reward/mean", "rewards/format_reward/mean", "rewards/perception_reward/mean")
PER_GAME = ("reward", "success_rate", "valid_action_rate", "unparsable_rate", "illegal_rate")


def config(tmp_path, name="run", **kw):
    base = dict(output_dir=str(tmp_path / name), use_cpu=True, bf16=False, report_to="none", max_steps=2,
                per_device_train_batch_size=8, num_generations=4, states_per_step=2,
                max_completion_length=32, learning_rate=1e-3, logging_steps=1, save_strategy="no",
                env_eval_every=0, env_eval_at_end=False, rollout_log=False, seed=0,
                gradient_checkpointing=False, disable_tqdm=True, min_pixels=None, max_pixels=None)
    base.update(kw)
    return G0Config(**base)


def params(model):
    return {k: v.detach().clone() for k, v in model.named_parameters()}


def key(env_id):
    return env_id.split("/", 1)[1]


def env_reward(env_id, kwargs, state, text):
    vec = gym.make_vec(env_id, num_envs=1, obs_mode="text", **kwargs)
    (r,), _ = vec.score([state], [text])
    vec.close()
    return float(r)


@pytest.mark.parametrize("env_id", BASE_IDS)
def test_grpo_steps_train_and_log_exactly_the_envs_rewards(env_id, tiny_vlm, tmp_path):
    model, processor = tiny_vlm
    ds = build_state_dataset(env_id, 4, seed=0)
    by_id = {r["state_id"]: vlmgym.GameState.from_bytes(r["state"]) for r in ds}
    cfg = config(tmp_path, log_completions=True, num_completions_to_print=1)
    rollout = ScriptedRollout(processor, ds, cfg.num_generations)
    trainer = build_g0_trainer(model, cfg, processor=processor, train_dataset=ds, rollout_func=rollout)
    before = params(model)
    trainer.train()
    assert rollout.calls == 2 and trainer.state.global_step == 2
    changed = [k for k, v in model.named_parameters() if not np.array_equal(v.detach(), before[k])]
    assert len(changed) > len(before) // 2, "the GRPO steps should move most parameters"
    assert any("visual" in k for k in changed), "the vision tower trains too (as in the paper)"

    logs = [h for h in trainer.state.log_history if "rewards/game_reward/mean" in h]
    assert [h["step"] for h in logs] == [1, 2]
    for h in logs:
        table = __import__("pandas").read_parquet(Path(cfg.output_dir) / "completions" /
                                                  f"completions_{h['step']:05d}.parquet")
        assert len(table) == 8  # 2 states x 4 completions, every one with its state id (log_extra)
        env_rewards, fmt, perc = [], [], []
        for row in table.itertuples():
            text = row.completion[0]["content"]
            state = by_id[row.state_id]
            env_rewards.append(env_reward(env_id, {}, state, text))
            board = gym.make_vec(env_id, num_envs=1, obs_mode="text")
            board.set_states([state])
            fmt.append(float(format_ok(text)))
            perc.append(float(perception_exact(text, board.observe()[1]["board_text"][0])))
        # TRL recorded, per completion, exactly what the env gives for the same completion
        assert list(table["game_reward"]) == env_rewards
        assert list(table["format_reward"]) == fmt and list(table["perception_reward"]) == perc
        assert h["rewards/game_reward/mean"] == pytest.approx(np.mean(env_rewards))
        assert h[f"vlmgym/{key(env_id)}/reward"] == pytest.approx(np.mean(env_rewards))
        assert h["reward"] == pytest.approx(np.mean(env_rewards) + np.mean(fmt))  # perception weight 0
        for name in METRICS + tuple(f"vlmgym/{key(env_id)}/{m}" for m in PER_GAME):
            assert name in h, name
        assert h["vlmgym/format_rate"] == 0.25 and h["vlmgym/P_acc"] == 0.25


def _stream_rows(games, seed, chunk, chunks):
    """The first rows of the stream a G0 trainer will read (the stream is deterministic)."""
    return list(itertools.islice(iter(stream_state_dataset(games, seed=seed, chunk_size=chunk)), chunk * chunks))


def test_streamed_multi_game_mixture_with_rollout_log(tiny_vlm, tmp_path):
    model, processor = tiny_vlm
    n = len(BASE_IDS)
    cfg = config(tmp_path, env_ids=BASE_IDS, states_per_step=n, per_device_train_batch_size=4,
                 rollout_log=True, state_seed=7)
    assert cfg.gradient_accumulation_steps == n and cfg.generation_batch_size == 4 * n
    rollout = ScriptedRollout(processor, _stream_rows(cfg.game_specs(), 7, n, 3), cfg.num_generations)
    trainer = build_g0_trainer(model, cfg, processor=processor, rollout_func=rollout)
    assert trainer.train_dataset.__class__.__name__ == "IterableDataset"
    trainer.train()
    logs = [h for h in trainer.state.log_history if "rewards/game_reward/mean" in h]
    assert len(logs) == 2
    for env_id in BASE_IDS:  # equal weights: every game in every step
        assert all(f"vlmgym/{key(env_id)}/reward" in h for h in logs)
    lines = [json.loads(x) for x in (Path(cfg.output_dir) / "rollouts" / "rollouts.jsonl").read_text().splitlines()]
    assert [sum(1 for r in lines if r["step"] == s) for s in (1, 2)] == [4 * n, 4 * n]
    for r in lines:
        assert r["game_reward"] == env_reward(r["env_id"], json.loads(r["env_kwargs"]),
                                              rollout.states_by_id[r["state_id"]], r["completion"])
        assert r["format_reward"] == float(format_ok(r["completion"])) and r["mode"] == "train"
    for step, h in zip((1, 2), logs):
        assert h["rewards/game_reward/mean"] == pytest.approx(np.mean([r["game_reward"] for r in lines
                                                                        if r["step"] == step]))
    images = sorted(p.stem for p in (Path(cfg.output_dir) / "rollouts" / "images").iterdir())
    assert images == sorted({r["state_id"] for r in lines})  # one picture per state


def test_resume_continues_the_same_state_stream_and_weights(tiny_vlm_dir, tmp_path):
    import shutil

    from tiny_vlm import load_tiny_vlm

    def run(name, resume=None):
        model, processor = load_tiny_vlm(tiny_vlm_dir)
        cfg = config(tmp_path, name, max_steps=4, save_strategy="steps", save_steps=2, rollout_log=True,
                     state_seed=3)
        rollout = ScriptedRollout(processor, _stream_rows(cfg.game_specs(), 3, 2, 5), cfg.num_generations)
        trainer = build_g0_trainer(model, cfg, processor=processor, rollout_func=rollout)
        trainer.train(resume_from_checkpoint=resume)
        lines = (Path(cfg.output_dir) / "rollouts" / "rollouts.jsonl").read_text().splitlines()
        by_step: dict[int, list[str]] = {}
        for x in map(json.loads, lines):
            by_step.setdefault(x["step"], []).append(x["state_id"])
        return trainer, by_step

    full, states = run("full")
    assert sorted(states) == [1, 2, 3, 4] and len({s for v in states.values() for s in v}) == 8
    # an interrupted run: only its checkpoint at step 2 is left; resume from the newest checkpoint
    shutil.copytree(tmp_path / "full" / "checkpoint-2", tmp_path / "resumed" / "checkpoint-2")
    resumed, again = run("resumed", resume=True)
    assert sorted(again) == [3, 4] and resumed.state.global_step == 4
    assert again == {3: states[3], 4: states[4]}  # the same states as the uninterrupted run
    # and the same weights: training continued from the checkpoint's weights and optimizer
    for (k, a), (_, b) in zip(full.model.named_parameters(), resumed.model.named_parameters()):
        assert np.allclose(a.detach(), b.detach(), atol=1e-6), k


def test_on_policy_states_reach_training(tiny_vlm, tmp_path):
    model, processor = tiny_vlm
    cfg = config(tmp_path, max_steps=3, states_per_step=4, per_device_train_batch_size=16, rollout_log=True,
                 on_policy_fraction=0.5, state_seed=2)
    rollout = ScriptedRollout(processor, _stream_rows(cfg.game_specs(), 2, 4, 4), cfg.num_generations)
    trainer = build_g0_trainer(model, cfg, processor=processor, rollout_func=rollout)
    trainer.train()
    pool = trainer.reward_funcs[0].on_policy
    assert pool.pushed >= 4 and pool.taken >= 2  # every group with a legal move pushes its next state
    lines = [json.loads(x) for x in (Path(cfg.output_dir) / "rollouts" / "rollouts.jsonl").read_text().splitlines()]
    on = [r for r in lines if r["source"] == "on_policy"]
    assert on and all(r["policy_steps"] >= 1 and r["step"] >= 2 for r in on)
    assert all(r["source"] == "sampled" for r in lines if r["step"] == 1)
    rates = [h["vlmgym/on_policy_rate"] for h in trainer.state.log_history if "vlmgym/on_policy_rate" in h]
    assert rates[0] == 0.0 and max(rates) == 0.5


class Tracker(TrainerCallback):
    """Stands in for a tracker integration (wandb, tensorboard): records what on_log receives."""

    def __init__(self):
        self.logs = []

    def on_log(self, args, state, control, logs=None, **kwargs):
        self.logs.append(dict(logs or {}))


def test_train_g0_samples_real_generations_with_lora_and_evaluates_in_env(tiny_vlm_dir, tmp_path):
    from tiny_vlm import load_tiny_vlm

    _, processor = load_tiny_vlm(tiny_vlm_dir)
    cfg = config(tmp_path, max_steps=2, states_per_step=2, per_device_train_batch_size=4, num_generations=2,
                 max_completion_length=8, use_lora=True, lora_r=4, lora_alpha=8, env_eval_every=2,
                 env_eval_at_end=True, env_eval_runs=2, env_eval_episode_steps=2, env_eval_max_new_tokens=4,
                 rollout_log=True)
    tracker = Tracker()
    trainer = train_g0(str(tiny_vlm_dir), cfg, processor=processor, callbacks=[tracker])  # TRL loads the path
    assert type(trainer.model).__name__.startswith("Peft")
    assert (Path(cfg.output_dir) / "adapter_config.json").exists()
    evals = [h for h in trainer.state.log_history if "vlmgym_eval/2048-v0/metric" in h]
    assert [h["step"] for h in evals] == [2]  # every 2 steps; no second evaluation at the same step
    summary = json.loads((Path(cfg.output_dir) / "env_eval" / "step-000002" / "2048-v0" / "summary.json").read_text())
    stats = summary["games"]["VLMGym/2048-v0"]["stats"]
    assert summary["runs"] == 2 and summary["steps"] == 2
    for name in ("metric", "successes", "score_gain", "format_rate", "unparsable"):
        assert evals[0][f"vlmgym_eval/2048-v0/{name}"] == pytest.approx(stats[name]["mean"])
    train_logs = [h for h in trainer.state.log_history if "rewards/game_reward/mean" in h]
    assert [h["step"] for h in train_logs] == [1, 2]  # the evaluation's log did not eat a training log
    # what trackers see: every callback's on_log got the evaluation and the vlmgym training metrics
    assert any("vlmgym_eval/2048-v0/metric" in logs for logs in tracker.logs)
    assert sum("vlmgym/2048-v0/reward" in logs and "vlmgym/P_acc" in logs for logs in tracker.logs) == 2
    lines = (Path(cfg.output_dir) / "rollouts" / "rollouts.jsonl").read_text().splitlines()
    assert len(lines) == 2 * 2 * 2 and all(json.loads(x)["status"] in {"ok", "illegal", "unparsable"}
                                           for x in lines)
