"""Evaluation harness overhead: `vlmgym eval` with the random policy, 10 runs x 100 steps, no video or
report (their cost: benchmarks/bench_report.py).

Measures the whole evaluation loop (queries, env steps with image observations, PNG encoding of
every observation as for an API, perception/format checks, steps.jsonl and checkpoint lines,
summary) against the bare batched env steps on the same answers, side by side.

Run: python benchmarks/bench_eval.py   (prints a Markdown table)
"""

from __future__ import annotations

import io
import shutil
import sys
import tempfile
import time
from pathlib import Path

import gymnasium as gym
from PIL import Image

sys.path.insert(0, str(Path(__file__).parent))
import vlmgym  # noqa: E402
from common import side_by_side, table  # noqa: E402
from vlmgym.eval import EvalConfig, FunctionPolicy, RandomPolicy, evaluate  # noqa: E402
from vlmgym.eval.policies import Query, encode_png, query_seed  # noqa: E402

RUNS, STEPS, REPEAT = 10, 100, 2
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
                                  out=str(root / "e"), video=False, curves=False, html=False, progress=False),
                       policy=policy)
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


def png_ms(env_id: str) -> tuple[float, float, int, int]:
    """ms per observation and bytes: vlmgym's encoder vs Pillow's PNG at compress_level=1."""
    vec = gym.make_vec(env_id, num_envs=RUNS)
    obs, _ = vec.reset(seed=0)

    def pillow(img):
        buf = io.BytesIO()
        Image.fromarray(img).save(buf, format="PNG", compress_level=1)
        return buf.getvalue()

    t = side_by_side({"ours": lambda: [encode_png(o) for o in obs], "pillow": lambda: [pillow(o) for o in obs]},
                     repeat=REPEAT)
    return (t["ours"] * 1e3 / RUNS, t["pillow"] * 1e3 / RUNS, len(encode_png(obs[0])), len(pillow(obs[0])))


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
        png, pil, size, pil_size = png_ms(env_id)
        name = env_id.split("/")[-1]
        rows += [
            (f"{name}: whole `vlmgym eval` (random, paper protocol, {RUNS}x{STEPS}, no video, no report)",
             f"**{min(walls):.2f} s**", "< 5 s"),
            (f"{name}: harness overhead per env step (env + checks + logging + checkpoints)",
             f"**{min(overheads):.3f} ms**", ""),
            (f"{name}: bare batched env step on the same answers", f"{bare:.3f} ms", ""),
            (f"{name}: harness / bare env step", f"{min(overheads) / bare:.1f}x", ""),
            (f"{name}: overhead per env step with PNG encoding of every observation",
             f"{min(overheads_png):.3f} ms", ""),
            (f"{name}: PNG of one observation, `encode_png` vs Pillow compress_level=1",
             f"{png:.2f} ms ({size / 1e3:.1f} kB) vs {pil:.2f} ms ({pil_size / 1e3:.1f} kB): "
             f"**{pil / png:.1f}x** faster", ">= 1.5x"),
        ]
    print(table("Evaluation harness (benchmarks/bench_eval.py)", rows))
    return rows


if __name__ == "__main__":
    main()
