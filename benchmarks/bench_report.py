"""What report.html costs: writing it, with and without step images, per env step; its sizes.

For each game, one evaluation folder (random policy, paper protocol, 10 runs x 100 steps, no
video) is reported again and again, interleaved with the evaluation itself for scale:
`write_html_report` with the step images, without them, and `evaluate` without any report but the
summary. Also the step image encoder (WebP, as stored) against `encode_png` on the same boards.

Run: python benchmarks/bench_report.py   (prints a Markdown table)
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

import gymnasium as gym

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parent.parent / "tests"))
from common import side_by_side, table  # noqa: E402
from fake_cifar import write_archive  # noqa: E402
from vlmgym.eval import EvalConfig, evaluate  # noqa: E402
from vlmgym.eval.html_report import encode_step_image, write_html_report  # noqa: E402
from vlmgym.eval.policies import encode_png  # noqa: E402
from vlmgym.eval.report import summarize  # noqa: E402

RUNS, STEPS, REPEAT = 10, 100, 3
IDS = ["VLMGym/2048-v0", "VLMGym/Shisensho-v0", "VLMGym/ShisenshoCifar10-v0", "VLMGym/Swap-v0",
       "VLMGym/ShisenshoMoreTiles-v0"]


def folder_size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def game_rows(env_id: str, kwargs: dict, root: Path) -> list[tuple[str, str, str]]:
    out = root / env_id.replace("/", "_")
    config = dict(policy="random", runs=RUNS, steps=STEPS, protocol="paper", env_kwargs=kwargs, video=False,
                  curves=False, html=False, progress=False)
    evaluate(EvalConfig([env_id], out=str(out), **config))
    summary = summarize(out)
    stats: dict = {}
    fresh = iter(range(10**6))

    def harness() -> None:  # the evaluation itself (no report but the summary), for scale
        evaluate(EvalConfig([env_id], out=str(root / f"{out.name}-again{next(fresh)}"), **config))

    t = side_by_side({
        "images": lambda: stats.setdefault("img", write_html_report(out, summary)),
        "no_images": lambda: write_html_report(out, summary, images=False),
        "harness": harness,
    }, repeat=REPEAT)
    write_html_report(out, summary)  # leave the folder with its images for the size
    n = RUNS * STEPS
    info = stats["img"]
    vec = gym.make_vec(env_id, num_envs=RUNS, **kwargs)
    obs, _ = vec.reset(seed=0)
    enc = side_by_side({"webp": lambda: [encode_step_image(o) for o in obs],
                        "png": lambda: [encode_png(o) for o in obs]}, repeat=REPEAT)
    webp_kb = sum(len(encode_step_image(o)[0]) for o in obs) / RUNS / 1e3
    png_kb = sum(len(encode_png(o)) for o in obs) / RUNS / 1e3
    vec.close()
    name = env_id.split("/")[-1]
    return [
        (f"{name}: report.html per env step, with / without step images",
         f"**{t['images'] * 1e3 / n:.2f} ms** / {t['no_images'] * 1e3 / n:.2f} ms", ""),
        (f"{name}: report.html with images / the whole evaluation without reports",
         f"{t['images'] / t['harness']:.2f}x", ""),
        (f"{name}: page / report/ folder / distinct step images ({n} steps)",
         f"{info['page_bytes'] / 1e3:.0f} kB / {folder_size(out / 'report') / 1e6:.2f} MB / {info['images']}", ""),
        (f"{name}: one step image, WebP as stored vs `encode_png`",
         f"{enc['webp'] * 1e3 / RUNS:.2f} ms ({webp_kb:.1f} kB) vs {enc['png'] * 1e3 / RUNS:.2f} ms "
         f"({png_kb:.1f} kB): **{png_kb / webp_kb:.1f}x** smaller", ""),
    ]


def main() -> list[tuple[str, str, str]]:
    root = Path(tempfile.mkdtemp())
    cifar, _ = write_archive(root, per_class=6)
    rows = []
    try:
        for env_id in IDS:
            rows += game_rows(env_id, {"cifar10_path": str(cifar)} if "Cifar" in env_id else {}, root)
        print(table("HTML report (benchmarks/bench_report.py)", rows))
        return rows
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
