"""Evaluation harness overhead: `vlmgym eval` with the random policy, 10 runs x 100 steps, no video.

Measures the whole evaluation loop (queries, env steps with image observations, PNG encoding of
every observation as for an API, perception/format checks, steps.jsonl and checkpoint lines,
summary) against the bare batched env steps on the same answers, side by side.

Run: python benchmarks/bench_eval.py   (prints a Markdown table)
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from pathlib import Path

import gymnasium as gym

sys.path.insert(0, str(Path(__file__).parent))
import vlmgym  # noqa: E402
from common import table  # noqa: E402
from vlmgym.eval import EvalConfig, FunctionPolicy, RandomPolicy, evaluate  # noqa: E402
from vlmgym.eval.policies import Query, query_seed  # noqa: E402

RUNS, STEPS, REPEAT = 10, 100, 3
IDS = [i for i in sorted(vlmgym.ENV_IDS) if i.endswith("-v0") and "Cifar" not in i]


def encode_then_random():
    rnd = RandomPolicy()

    def policy(queries):
        for q in queries:
            q.png()  # what an API policy does once per observation
        return rnd(queries)

    return FunctionPolicy(policy, "random+png")


def run_eval(env_id: str, png: bool) -> tuple[float, float]:
    """(wall seconds of the whole evaluate(), harness overhead ms per env step)."""
    root = Path(tempfile.mkdtemp())
    try:
        policy = encode_then_random() if png else None
        start = time.perf_counter()
        res = evaluate(EvalConfig([env_id], policy="random", runs=RUNS, steps=STEPS, protocol="paper",
                                  out=str(root / "e"), video=False, curves=False, progress=False), policy=policy)
        wall = time.perf_counter() - start
        t = res.timing
        # the PNG encoding happens inside the policy call: count it as overhead here
        per_step = (t["wall_s"] - (0 if png else t["policy_s"])) * 1e3 / t["env_steps"]
        return wall, per_step
    finally:
        shutil.rmtree(root, ignore_errors=True)


def bare_steps(env_id: str) -> float:
    """ms per env step of the bare vector env on the same kind of random answers."""
    vec = gym.make_vec(env_id, num_envs=RUNS)
    vec.reset(seed=0)
    rnd = RandomPolicy()
    obs, info = vec.observe()
    states = vec.get_states()
    answers = rnd([Query(env_id, i, 1, "", None, seed=query_seed(0, env_id, i, s), state=states[i], env=vec)
                   for s in range(STEPS) for i in range(RUNS)])
    best = float("inf")
    for _ in range(REPEAT):
        vec.reset(seed=0)
        t = time.perf_counter()
        for s in range(STEPS):
            vec.step(answers[s * RUNS:(s + 1) * RUNS])
        best = min(best, time.perf_counter() - t)
    return best * 1e3 / (RUNS * STEPS)


def png_ms(env_id: str) -> tuple[float, int]:
    vec = gym.make_vec(env_id, num_envs=RUNS)
    obs, _ = vec.reset(seed=0)
    best = float("inf")
    size = 0
    for _ in range(REPEAT):
        qs = [Query(env_id, i, 1, "", obs[i]) for i in range(RUNS)]
        t = time.perf_counter()
        size = sum(len(q.png()) for q in qs) // RUNS
        best = min(best, time.perf_counter() - t)
    return best * 1e3 / RUNS, size


def main() -> list[tuple[str, str, str]]:
    rows = []
    for env_id in IDS:
        walls, overheads, overheads_png = [], [], []
        for _ in range(REPEAT):  # interleaved: with and without PNG encoding
            w, o = run_eval(env_id, png=False)
            walls.append(w)
            overheads.append(o)
            _, op = run_eval(env_id, png=True)
            overheads_png.append(op)
        bare = bare_steps(env_id)
        png, size = png_ms(env_id)
        name = env_id.split("/")[-1]
        rows += [
            (f"{name}: whole `vlmgym eval` (random, paper protocol, {RUNS}x{STEPS}, no video)",
             f"{min(walls):.2f} s", "seconds"),
            (f"{name}: harness overhead per env step (env + checks + logging + checkpoints)",
             f"{min(overheads):.3f} ms", ""),
            (f"{name}: same, plus PNG encoding of every observation",
             f"**{min(overheads_png):.3f} ms**", "< 5 ms"),
            (f"{name}: bare batched env step on the same answers", f"{bare:.3f} ms", ""),
            (f"{name}: PNG encode of one observation (compress_level=1)", f"{png:.3f} ms ({size / 1e3:.1f} kB)", ""),
        ]
    print(table("Evaluation harness (benchmarks/bench_eval.py)", rows))
    return rows


if __name__ == "__main__":
    main()
