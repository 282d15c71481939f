"""Share of a GRPO step spent in the environment, at the paper's 128 states x 5 completions.

Two measurements in one run:

1. Per registered game, the environment's work for one step on its own: sampling 128 states
   (reset + the game's K random moves, no pictures), drawing them once and building the dataset
   rows (the stream's chunk), and scoring 640 completions with the game, format and perception
   rewards. Also the sampler's render count for 128 states with K=250 (must be 1: nothing is drawn
   before the last move).
2. Real ``GRPOTrainer`` steps with the tiny random Qwen2.5-VL of the tests on CPU (one thread),
   streaming fresh 2048 states: the step time TRL logs, the time in ``model.generate``, and the
   time spent inside vlmgym (the stream's sampling/rendering and the three rewards), measured by
   the plugin's own counters.

Times are steady-state (the first chunk and reward call, which build envs and sprite atlases once,
are left out and reported apart). Run:
``python benchmarks/bench_grpo_env_share.py [--steps 3] [--max-new-tokens 64]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import vlmgym  # noqa: E402

STATES, GENERATIONS = 128, 5


def base_ids() -> list[str]:
    import gymnasium as gym

    by_game: dict[str, str] = {}
    for env_id, (kwargs, _) in sorted(vlmgym.ENV_IDS.items(), key=lambda kv: (len(kv[0]), kv[0])):
        game = str(kwargs.get("game"))
        if game in by_game:
            continue
        try:
            gym.make_vec(env_id, num_envs=1, obs_mode="text").close()
        except Exception:
            continue
        by_game[game] = env_id
    return sorted(by_game.values())


def completions(rows: list[dict], n: int) -> list[str]:
    """Realistic completions: perception block, some reasoning, an answer (a fifth are junk)."""
    out = []
    for row in rows:
        for j in range(n):
            if j == n - 1:
                out.append("I am not sure what to do here.")
                continue
            move = "1" if row["env_id"].endswith("2048-v0") else f"({j}, 0) ({j}, 1)"
            out.append(f"<perception>\n{row['board_text']}\n</perception>\n<think>Looking at the board, "
                       f"option {j} seems best because it keeps the tiles together.</think>"
                       f"<answer>{move}</answer>")
    return out


def env_only(env_id: str, repeats: int = 5) -> dict[str, float]:
    from vlmgym_rl.rewards import g0_rewards
    from vlmgym_rl.states import GameSpec, StateSampler

    sampler = StateSampler(GameSpec(env_id))
    sampler.rows(0, sampler.sample(0, STATES, seed=0))  # warm up: sprite atlas, env construction
    sample_s, render_s = [], []
    rows: list[dict] = []
    for r in range(repeats):
        t0 = time.perf_counter()
        states = sampler.sample(0, STATES, seed=r + 1)
        t1 = time.perf_counter()
        rows = sampler.rows(0, states)
        t2 = time.perf_counter()
        sample_s.append(t1 - t0)
        render_s.append(t2 - t1)
    funcs, _ = g0_rewards()
    group = [row for row in rows for _ in range(GENERATIONS)]
    texts = completions(rows, GENERATIONS)
    cols = {k: [row[k] for row in group] for k in ("state", "env_id", "env_kwargs", "board_text", "source",
                                                     "policy_steps", "image")}
    for f in funcs:
        f(completions=texts, **cols)  # warm up (scoring env construction)
    score_s = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for f in funcs:
            f(completions=texts, log_metric=lambda *_: None, **cols)
        score_s.append(time.perf_counter() - t0)
    k250 = StateSampler(GameSpec(env_id, k=250))
    k250.rows(0, k250.sample(0, STATES, seed=0))
    return {"sample_s": statistics.median(sample_s), "render_rows_s": statistics.median(render_s),
            "score_640_s": statistics.median(score_s), "render_calls_k250": float(k250.render_calls)}


def grpo_steps(steps: int, max_new_tokens: int, out: str) -> dict[str, float]:
    import torch

    from tiny_vlm import build_tiny_vlm, load_tiny_vlm
    from vlmgym_rl import G0Config, build_g0_trainer

    torch.set_num_threads(1)
    path = Path(out) / "tiny"
    build_tiny_vlm(save_dir=path)
    model, processor = load_tiny_vlm(path)
    generate_s: list[float] = []
    original = model.generate

    def timed_generate(*args, **kwargs):  # benchmark instrumentation only
        t0 = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            generate_s.append(time.perf_counter() - t0)

    model.generate = timed_generate
    cfg = G0Config(output_dir=str(Path(out) / "run"), use_cpu=True, bf16=False, report_to="none",
                   max_steps=steps, states_per_step=STATES, num_generations=GENERATIONS,
                   per_device_train_batch_size=64, max_completion_length=max_new_tokens,
                   gradient_checkpointing=False, save_strategy="no", env_eval_every=0, env_eval_at_end=False,
                   rollout_log=False, logging_steps=1, disable_tqdm=True, learning_rate=1e-4,
                   min_pixels=None, max_pixels=None)
    trainer = build_g0_trainer(model, cfg, processor=processor)
    stats = trainer.train_dataset.vlmgym_stats  # the stream's own counters (shared with TRL's wrapper)
    t0 = time.perf_counter()
    trainer.train()
    wall = time.perf_counter() - t0
    step_times = [h["step_time"] for h in trainer.state.log_history if "step_time" in h]
    # steady state: leave out the first chunk / reward call (they build envs and sprite atlases once)
    chunks = stats["chunk_seconds"][1:] or stats["chunk_seconds"]
    calls = [sum(parts) for parts in zip(*(f.call_seconds for f in trainer.reward_funcs))]
    return {"wall_s": wall, "step_s": statistics.mean(step_times[1:] or step_times),
            "generate_s": statistics.mean(generate_s[1:] or generate_s),
            "reward_s": statistics.median(calls[1:] or calls), "stream_s": statistics.median(chunks),
            "first_chunk_s": stats["chunk_seconds"][0], "steps": float(steps)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--max-new-tokens", type=int, default=64)
    ap.add_argument("--out", default="/tmp/vlmgym-bench-grpo")
    ap.add_argument("--skip-trainer", action="store_true")
    a = ap.parse_args()
    print(f"environment work per GRPO step ({STATES} states x {GENERATIONS} completions), median of 5:")
    print(f"{'env id':24s} {'sample':>9s} {'draw+rows':>10s} {'score 640':>10s} {'renders(K=250)':>15s}")
    env_costs = {}
    for env_id in base_ids():
        r = env_only(env_id)
        env_costs[env_id] = r["sample_s"] + r["render_rows_s"] + r["score_640_s"]
        print(f"{env_id:24s} {r['sample_s'] * 1e3:7.1f}ms {r['render_rows_s'] * 1e3:8.1f}ms "
              f"{r['score_640_s'] * 1e3:8.1f}ms {r['render_calls_k250']:15.0f}")
    if a.skip_trainer:
        return
    g = grpo_steps(a.steps, a.max_new_tokens, a.out)
    env_s = g["stream_s"] + g["reward_s"]
    print(f"\nGRPOTrainer on CPU (tiny Qwen2.5-VL, 1 thread, {a.max_new_tokens} new tokens, "
          f"{int(g['steps'])} steps, 2048 stream):")
    print(f"  step time (TRL's step_time)   {g['step_s']:8.2f} s")
    print(f"  of which model.generate       {g['generate_s']:8.2f} s")
    print(f"  vlmgym stream (sample+draw)   {g['stream_s'] * 1e3:8.1f} ms   (first chunk, building envs: "
          f"{g['first_chunk_s'] * 1e3:.0f} ms)")
    print(f"  vlmgym rewards (640 scored)   {g['reward_s'] * 1e3:8.1f} ms")
    print(f"  env share of a step           {100 * env_s / (g['step_s'] + g['stream_s']):8.2f} %")
    print(f"  env time / generation time    {100 * env_s / g['generate_s']:8.2f} %")
    worst = max(env_costs.values())
    print(f"  slowest game's env work       {worst * 1e3:8.1f} ms = "
          f"{100 * worst / (g['step_s'] + worst):.2f} % of this step")


if __name__ == "__main__":
    main()
