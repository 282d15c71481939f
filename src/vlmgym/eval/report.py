"""Reports of an evaluation folder: ``summary.json``, ``summary.md``, ``curves.png``, videos,
``report.html`` (:mod:`vlmgym.eval.html_report`).

Everything is computed from the folder alone (``config.json``, ``steps.jsonl``,
``checkpoints.jsonl``), so reports are identical whether the evaluation ran in one go or was
resumed, and can be rebuilt at any time with :func:`write_reports`.

Per run and game: the protocol ``metric`` (2048: ``score_gain``, the summed merge score; tile
games: ``successes``, the number of successful moves), plus reward, rates and counts. Across runs:
mean, sample standard deviation (ddof=1), min and max. Pooled over all steps of a game:
perception accuracy and the paper's reasoning accuracy P(success | perception exact).

Optional packages: matplotlib for ``curves.png``, imageio-ffmpeg for mp4 videos (GIF through
Pillow otherwise); what was skipped and why is listed in ``summary.json["skipped"]``.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from vlmgym.eval.annotate import describe_action, mark_cells, outline_boxes
from vlmgym.eval.records import decode_states, jsonable, read_jsonl, step_metric
from vlmgym.eval.redaction import redact

__all__ = ["PER_RUN_METRICS", "summarize", "write_reports", "markdown_table", "write_curves",
           "write_videos"]

#: Per-run metrics in the order of the tables.
PER_RUN_METRICS = ("metric", "successes", "score_gain", "reward", "success_rate", "perception_exact_rate",
                   "perception_cell_accuracy", "format_rate", "unparsable", "illegal", "request_failed",
                   "episodes_finished", "latency_mean_s", "request_bytes_mean")
VIDEO_FPS = 4


def _stats(values: list[float | None]) -> dict[str, float | None]:
    v = np.array([x for x in values if x is not None], dtype=np.float64)
    if len(v) == 0:
        return {"mean": None, "std": None, "min": None, "max": None}
    spread = len(v) > 1 and v.max() > v.min()
    return {"mean": float(v.mean()), "std": float(v.std(ddof=1)) if spread else 0.0,
            "min": float(v.min()), "max": float(v.max())}


def _mean(values: list[Any]) -> float | None:
    v = [float(x) for x in values if x is not None]
    return float(np.mean(v)) if v else None


def _run_metrics(recs: list[dict[str, Any]], metric: str) -> dict[str, float | None]:
    answered = [r for r in recs if r["status"] != "request_failed"]
    status = [r["status"] for r in recs]
    out: dict[str, float | None] = {
        "successes": float(sum(r["success"] for r in recs)),
        "score_gain": float(sum(r["gain"] for r in recs)),
        "reward": float(sum(r["reward"] for r in recs)),
        "success_rate": float(np.mean([r["success"] for r in recs])) if recs else None,
        "perception_exact_rate": _mean([r["perception_exact"] for r in answered]),
        "perception_cell_accuracy": _mean([r["perception_cell_accuracy"] for r in answered]),
        "format_rate": _mean([r["format_ok"] for r in answered]),
        "unparsable": float(status.count("unparsable")),
        "illegal": float(status.count("illegal")),
        "request_failed": float(status.count("request_failed")),
        "episodes_finished": float(sum(r["terminated"] or r["truncated"] for r in recs)),
        "latency_mean_s": _mean([r["latency_s"] for r in recs]),
        "request_bytes_mean": _mean([r["request_bytes"] for r in recs]),
    }
    out["metric"] = out[metric]
    return out


def summarize(out: str | Path, timing: dict[str, float] | None = None) -> dict[str, Any]:
    """The summary of an evaluation folder (also for an unfinished one: ``complete`` says)."""
    out = Path(out)
    config = json.loads((out / "config.json").read_text())
    ident = config["identity"]
    records = read_jsonl(out / "steps.jsonl")
    by_game: dict[str, dict[int, list[dict[str, Any]]]] = defaultdict(lambda: defaultdict(list))
    for r in records:
        by_game[r["env_id"]][r["run"]].append(r)
    games: dict[str, Any] = {}
    complete = True
    for env_id in ident["env_ids"]:
        meta = config["games"][env_id]
        runs = by_game.get(env_id, {})
        per_run_recs = [sorted(runs.get(i, []), key=lambda r: r["step"]) for i in range(ident["runs"])]
        complete &= all(len(rs) == ident["steps"] for rs in per_run_recs)
        per_run = [_run_metrics(rs, meta["metric"]) for rs in per_run_recs]
        metrics = {k: [p[k] for p in per_run] for k in PER_RUN_METRICS}
        pooled = [r for rs in per_run_recs for r in rs]
        exact = [r for r in pooled if r["perception_exact"]]
        games[env_id] = {
            "game": meta["game"],
            "metric": meta["metric"],
            "env_kwargs": meta["env_kwargs"],
            "warmup_steps": meta["warmup_steps"],
            "steps_recorded": [len(rs) for rs in per_run_recs],
            "per_run": metrics,
            "stats": {k: _stats(v) for k, v in metrics.items()},
            "pooled": {
                "steps": len(pooled),
                "perception_exact_rate": _mean([r["perception_exact"] for r in pooled
                                                if r["status"] != "request_failed"]),
                "reasoning_accuracy": _mean([r["success"] for r in exact]) if exact else None,
                "prompt_tokens": sum((r.get("usage") or {}).get("prompt_tokens", 0) for r in pooled),
                "completion_tokens": sum((r.get("usage") or {}).get("completion_tokens", 0) for r in pooled),
            },
        }
    summary = {
        "complete": complete,
        "out": str(out),
        "protocol": config["protocol"],
        "runs": ident["runs"],
        "steps": ident["steps"],
        "seed": ident["seed"],
        "policy": config["policy"],
        "policy_spec": ident["policy"],
        "generation": ident["generation"],
        "versions": config["versions"],
        "created": config.get("created"),
        "games": games,
    }
    if timing is not None:
        summary["timing"] = jsonable(timing)
    return summary


def _fmt(v: float | None, name: str) -> str:
    if v is None:
        return "-"
    if name.endswith("_rate") or name == "perception_cell_accuracy":
        return f"{v:.3f}"
    if name == "latency_mean_s":
        return f"{v:.3g}"
    return f"{v:.1f}" if abs(v) < 1e5 else f"{v:.4g}"


def markdown_table(summary: dict[str, Any]) -> str:
    """The summary as Markdown: one table row per game and metric, then the context."""
    lines = [f"# vlmgym eval: `{summary['policy_spec']}`", ""]
    if not summary["complete"]:
        lines += ["**Incomplete**: not every run has all its steps (resume with `--resume`).", ""]
    lines += [f"Protocol **{summary['protocol']['name']}**: {summary['protocol']['description']}. "
              f"{summary['runs']} runs x {summary['steps']} steps, seed {summary['seed']}.", "",
              "| game | metric | mean | std | min | max |", "|---|---|---:|---:|---:|---:|"]
    for env_id, g in summary["games"].items():
        for name in PER_RUN_METRICS:
            s = g["stats"][name]
            if s["mean"] is None:
                continue
            label = f"**{g['metric']}** (protocol metric)" if name == "metric" else name
            lines.append(f"| {env_id} | {label} | {_fmt(s['mean'], name)} | {_fmt(s['std'], name)} | "
                         f"{_fmt(s['min'], name)} | {_fmt(s['max'], name)} |")
        ra = g["pooled"]["reasoning_accuracy"]
        lines.append(f"| {env_id} | reasoning_accuracy (pooled) | "
                     f"{'-' if ra is None else f'{ra:.3f}'} | | | |")
    lines += ["", "## Environments", ""]
    for env_id, g in summary["games"].items():
        lines.append(f"- `{env_id}` (game {g['game']}, warm-up {g['warmup_steps']} random steps): "
                     f"`{json.dumps(g['env_kwargs'], sort_keys=True)}`")
    lines += ["", "## Policy", "", f"`{json.dumps(summary['policy'], sort_keys=True)}`", ""]
    if summary["generation"]:
        lines += [f"Generation: `{json.dumps(summary['generation'], sort_keys=True)}`", ""]
    lines += ["## Versions", "", ", ".join(f"{k} {v}" for k, v in summary["versions"].items()), ""]
    if "timing" in summary:
        t = summary["timing"]
        lines += ["## Timing (last session)", "",
                  f"wall {t['wall_s']:.2f} s, policy {t['policy_s']:.2f} s, harness overhead "
                  f"{t['overhead_per_env_step_ms']:.3f} ms per env step", ""]
    return "\n".join(lines)


def _cumulative(out: Path, summary: dict[str, Any]) -> dict[str, dict[str, np.ndarray]]:
    curves: dict[str, dict[str, np.ndarray]] = {}
    runs, steps = summary["runs"], summary["steps"]
    for env_id in summary["games"]:
        reward = np.zeros((runs, steps))
        metric = np.zeros((runs, steps))
        curves[env_id] = {"reward": reward, "metric": metric}
    for r in read_jsonl(out / "steps.jsonl"):
        c = curves[r["env_id"]]
        k = r["step"] - 1
        c["reward"][r["run"], k] = r["reward"]
        gm = summary["games"][r["env_id"]]["metric"]
        c["metric"][r["run"], k] = step_metric(r, gm)
    for c in curves.values():
        c["reward"] = np.cumsum(c["reward"], axis=1)
        c["metric"] = np.cumsum(c["metric"], axis=1)
    return curves


def write_curves(out: str | Path, summary: dict[str, Any]) -> Path:
    """``curves.png``: cumulative reward (top) and protocol metric (bottom) per run, per game."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    out = Path(out)
    curves = _cumulative(out, summary)
    n = len(curves)
    fig, axes = plt.subplots(2, n, figsize=(4.2 * n + 0.6, 6.4), squeeze=False, sharex=True)
    x = np.arange(1, summary["steps"] + 1)
    for j, (env_id, c) in enumerate(curves.items()):
        g = summary["games"][env_id]
        for row, key, label in ((0, "reward", "cumulative reward"), (1, "metric", f"cumulative {g['metric']}")):
            ax = axes[row][j]
            for run in range(summary["runs"]):
                ax.plot(x, c[key][run], lw=1, alpha=0.75)
            ax.plot(x, c[key].mean(axis=0), color="black", lw=2, label="mean")
            ax.set_ylabel(label)
            ax.grid(alpha=0.3)
        s = g["stats"]["metric"]
        headline = "" if s["mean"] is None else f": {s['mean']:.1f} ± {s['std']:.1f}"
        axes[0][j].set_title(f"{env_id}\n{g['metric']}{headline}", fontsize=10)
        axes[1][j].set_xlabel("step")
        axes[0][j].legend(loc="best", fontsize=8)
    fig.suptitle(f"vlmgym eval: {summary['policy_spec']} ({summary['runs']} runs)", fontsize=11)
    fig.tight_layout()
    path = out / "curves.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _caption_frames(frames: np.ndarray, captions: list[tuple[str, str]]) -> np.ndarray:
    """Add a two-line caption band below each frame; pad to even sizes (for H.264)."""
    from PIL import Image, ImageDraw

    from vlmgym.core.render import font

    n, h, w, _ = frames.shape
    band = 40
    width = max(w, 320)
    width += width % 2
    height = h + band + (h + band) % 2
    out = np.full((n, height, width, 3), 24, dtype=np.uint8)
    x0 = (width - w) // 2
    out[:, :h, x0:x0 + w] = frames
    f = font(13)
    for k, (a, b) in enumerate(captions):
        img = Image.new("RGB", (width, band), (24, 24, 24))
        draw = ImageDraw.Draw(img)
        draw.text((6, 4), a, fill=(235, 235, 235), font=f)
        draw.text((6, 21), b, fill=(200, 200, 120), font=f)
        out[k, h:h + band] = np.asarray(img)
    return out


def _write_video(path: Path, frames: np.ndarray) -> Path:
    try:
        import imageio_ffmpeg
    except ImportError:
        imageio_ffmpeg = None
    if imageio_ffmpeg is not None:
        path = path.with_suffix(".mp4")
        h, w = frames.shape[1:3]
        writer = imageio_ffmpeg.write_frames(str(path), (w, h), fps=VIDEO_FPS, codec="libx264",
                                             macro_block_size=1, quality=7, ffmpeg_log_level="error",
                                             output_params=["-preset", "ultrafast"])
        writer.send(None)
        for frame in frames:
            writer.send(np.ascontiguousarray(frame))
        writer.close()
        return path
    from PIL import Image

    path = path.with_suffix(".gif")
    images = [Image.fromarray(f) for f in frames]
    images[0].save(path, save_all=True, append_images=images[1:], duration=1000 // VIDEO_FPS, loop=0)
    return path


def write_videos(out: str | Path, summary: dict[str, Any]) -> list[Path]:
    """One video per run and game under ``videos/``, rendered from the stored snapshots.

    Frame ``k`` is the board the policy saw at step ``k + 1``, captioned with its answer and the
    outcome (the cells the answer names, as the game's codec says, are outlined: green for a
    success, red otherwise); the last frame is the final board.
    """
    import gymnasium as gym

    out = Path(out)
    config = json.loads((out / "config.json").read_text())
    checkpoints = read_jsonl(out / "checkpoints.jsonl")
    records: dict[tuple[str, int, int], dict[str, Any]] = {
        (r["env_id"], r["run"], r["step"]): r for r in read_jsonl(out / "steps.jsonl")}
    (out / "videos").mkdir(exist_ok=True)
    paths = []
    for env_id, g in summary["games"].items():
        vec: Any = gym.make_vec(env_id, num_envs=1, **config["identity"]["env_kwargs"])
        try:
            layout, codec = vec.layout, vec.game.codec
            per_step = [decode_states(cp["games"][env_id]["states"]) for cp in checkpoints]
            for run in range(summary["runs"]):
                # a writable copy: rendered frames are read-only, and the answers are drawn on them
                frames = np.array(vec.render_states([states[run] for states in per_step]))
                captions = []
                total = 0.0
                for k, cp in enumerate(checkpoints):
                    step = cp["step"] + 1
                    head = f"run {run}  step {step}/{summary['steps']}  {g['metric']} {total:g}"
                    rec = records.get((env_id, run, step))
                    if rec is None:
                        captions.append((f"run {run}  end  {g['metric']} {total:g}", "final board"))
                        continue
                    total += step_metric(rec, g["metric"])
                    ok = rec["success"]
                    mark_cells(frames[k], outline_boxes(layout, codec, rec["action"]),
                               (40, 200, 60) if ok else (230, 40, 40))
                    end = "  | board replaced" if rec["terminated"] or rec["truncated"] else ""
                    captions.append((head, f"{describe_action(rec, codec)} -> {rec['status']} {rec['reward']:+g}{end}"))
                slug = env_id.replace("/", "_")
                paths.append(_write_video(out / "videos" / f"{slug}_run{run:02d}", _caption_frames(frames, captions)))
        finally:
            vec.close()
    return paths


def write_reports(out: str | Path, *, video: bool = True, curves: bool = True, html: bool = True,
                  step_images: bool = True, timing: dict[str, float] | None = None) -> dict[str, Any]:
    """Write ``summary.json``, ``summary.md`` and, when asked and possible, curves, videos and
    ``report.html`` (with its step images unless ``step_images=False``)."""
    out = Path(out)
    summary = summarize(out, timing)
    skipped: dict[str, str] = {}
    if curves:
        try:
            write_curves(out, summary)
        except ImportError:
            skipped["curves"] = "matplotlib is not installed: pip install 'vlmgym[eval]'"
    else:
        skipped["curves"] = "disabled"
    if video:
        write_videos(out, summary)
    else:
        skipped["videos"] = "disabled"
    if html and not step_images:
        skipped["step_images"] = "disabled"
    if not html:
        skipped["html"] = "disabled"
    summary["skipped"] = skipped
    summary = redact(summary)  # (config.json is redacted already; a folder from elsewhere may not be)
    if html:
        from vlmgym.eval.html_report import write_html_report

        write_html_report(out, summary, images=step_images)
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    (out / "summary.md").write_text(markdown_table(summary))
    return summary
