"""``vlmgym-rl report RUN_DIR``: the paper's training analysis from a run's rollout log.

Reads ``<run>/rollouts/rollouts.jsonl`` (and ``rollouts.rank<k>.jsonl`` of other processes),
written by :class:`~vlmgym_rl.callback.VLMGymCallback`: one record per training completion. Per
training step, and per game when there are several, it computes

=====================  ===================================================================
``game_reward``        mean game reward (+1/-1, or the score with ``reward_mode="score"``)
``format_reward``      share of completions with all six tags
``success_rate``       share of completions whose move succeeded
``P_acc``              share whose ``<perception>`` block is exactly the board text
``cell_acc``           mean share of board cells the perception names correctly
``R_acc``              success rate among completions with an exact perception,
                       P(success | perception correct); empty when no perception was exact
``localization``       share whose perception tags cells with coordinates, ``(0,0): Red circle``
                       (the "localization pattern" the paper counts)
=====================  ===================================================================

and writes into ``<run>/report/`` (or ``out``): ``metrics.csv`` (one row per step and game),
PNG plots (``rewards.png``, ``perception.png``, ``reasoning.png``, ``localization.png``; raw values
faint, a moving average bold) and ``report.md`` (a summary table: first and last tenth of the run
and the whole run, and the plots). Plots need matplotlib (part of the ``rl`` extra).

Records from before ``perception_cell_acc``/``localization`` were logged get them computed where
possible (localization from the completion; the cell accuracy needs the board text and is left
empty).
"""

from __future__ import annotations

import csv
import json
import math
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from vlmgym.core.answer import has_localization

__all__ = ["METRICS", "ReportResult", "load_rollouts", "step_metrics", "write_report"]

#: Metrics per step, in the order of the CSV columns.
METRICS = ("game_reward", "format_reward", "success_rate", "P_acc", "cell_acc", "R_acc", "localization")
_ALL = "all"
_PLOTS = {
    "rewards.png": ("Rewards", ("game_reward", "format_reward"), "mean reward"),
    "perception.png": ("Perception", ("P_acc", "cell_acc"), "accuracy"),
    "reasoning.png": ("Reasoning", ("R_acc", "success_rate"), "rate"),
    "localization.png": ("Localization pattern in the perception", ("localization",), "share of responses"),
}
_LABELS = {"game_reward": "game reward", "format_reward": "format reward", "success_rate": "success rate",
           "P_acc": "P_acc (exact perception)", "cell_acc": "per-cell perception accuracy",
           "R_acc": "R_acc = P(success | exact perception)", "localization": "coordinate-tagged cells"}


def _rollout_files(run: Path) -> list[Path]:
    if run.is_file():
        return [run]
    folder = run / "rollouts" if (run / "rollouts").is_dir() else run
    files = sorted(folder.glob("rollouts*.jsonl"))
    if not files:
        raise FileNotFoundError(f"no rollout log in {run}: expected {run}/rollouts/rollouts.jsonl (written by "
                                "VLMGymCallback with rollout_log=True, the G0 default)")
    return files


def load_rollouts(run: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Every record of a run's rollout log (all processes), in file order.

    ``run`` is the run's output folder, its ``rollouts`` folder or one ``.jsonl`` file. Lines that
    are not JSON (a line cut by an interruption) are skipped.
    """
    records = []
    for path in _rollout_files(Path(run)):
        with open(path, encoding="utf-8") as fh:
            for line in fh:
                line = line.strip()
                if not line:
                    continue
                try:
                    rec = json.loads(line)
                except json.JSONDecodeError:
                    continue
                if isinstance(rec, dict) and "step" in rec:
                    records.append(rec)
    return records


def _game(rec: dict[str, Any]) -> str:
    return str(rec.get("env_id") or "?").split("/", 1)[-1]


def _mean(values: Iterable[float | None]) -> float | None:
    vals = [float(v) for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]
    return float(np.mean(vals)) if vals else None


def _metrics(recs: Sequence[dict[str, Any]]) -> dict[str, Any]:
    exact = [r for r in recs if (r.get("perception_reward") or 0) > 0]
    cells = [r.get("perception_cell_acc") for r in recs]
    loc = [r["localization"] if "localization" in r else has_localization(r.get("completion") or "") for r in recs]
    return {
        "n": len(recs),
        "game_reward": _mean(r.get("game_reward") for r in recs),
        "format_reward": _mean(r.get("format_reward") for r in recs),
        "success_rate": _mean(float(bool(r.get("success"))) for r in recs),
        "P_acc": _mean(float((r.get("perception_reward") or 0) > 0) for r in recs),
        "cell_acc": _mean(cells),
        "R_acc": _mean(float(bool(r.get("success"))) for r in exact),
        "localization": _mean(float(bool(x)) for x in loc),
    }


def step_metrics(records: Sequence[dict[str, Any]], mode: str = "train") -> dict[str, dict[int, dict[str, Any]]]:
    """``{game or "all": {step: metrics}}`` for the records of ``mode`` (``"train"`` or ``"eval"``)."""
    chosen = [r for r in records if r.get("mode", "train") == mode]
    groups: dict[str, dict[int, list[dict[str, Any]]]] = {}
    for r in chosen:
        step = int(r["step"])
        groups.setdefault(_ALL, {}).setdefault(step, []).append(r)
        groups.setdefault(_game(r), {}).setdefault(step, []).append(r)
    out = {g: {s: _metrics(recs) for s, recs in sorted(by_step.items())} for g, by_step in groups.items()}
    if len(out) == 2:  # one game: its curves are the "all" curves
        out = {g: v for g, v in out.items() if g != _ALL}
    return out


def _smooth(values: np.ndarray, window: int) -> np.ndarray:
    """Trailing moving average that skips missing values (NaN)."""
    out = np.full(len(values), np.nan)
    for i in range(len(values)):
        seg = values[max(0, i - window + 1): i + 1]
        seg = seg[~np.isnan(seg)]
        if len(seg):
            out[i] = seg.mean()
    return out


def _pooled(steps: Sequence[int], records: Sequence[dict[str, Any]], game: str, mode: str) -> dict[str, Any]:
    keep = set(steps)
    recs = [r for r in records if r.get("mode", "train") == mode and int(r["step"]) in keep
            and (game == _ALL or _game(r) == game)]
    return _metrics(recs)


@dataclass
class ReportResult:
    """Where the report went and what it found."""

    out: Path
    markdown: Path
    csv: Path
    plots: list[Path]
    metrics: dict[str, dict[int, dict[str, Any]]]
    summary: dict[str, dict[str, dict[str, Any]]]


def _fmt(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.3f}"
    return str(v)


def write_report(run: str | os.PathLike[str], out: str | os.PathLike[str] | None = None, *, mode: str = "train",
                 smooth: int | None = None, plots: bool = True) -> ReportResult:
    """Compute the per-step metrics of a run and write ``metrics.csv``, the plots and ``report.md``.

    Args:
        run: the run's output folder (or its ``rollouts`` folder, or a ``.jsonl`` file).
        out: where to write (default ``<run>/report``).
        mode: ``"train"`` (training completions) or ``"eval"``.
        smooth: moving-average window in steps (default: a twentieth of the steps, at least 1).
        plots: draw the PNG plots (needs matplotlib).
    """
    if mode not in ("train", "eval"):
        raise ValueError(f"mode must be 'train' or 'eval', got {mode!r}")
    if smooth is not None and (isinstance(smooth, bool) or not isinstance(smooth, int) or smooth < 1):
        raise ValueError(f"smooth must be a positive integer, got {smooth!r}")
    run_path = Path(run)
    if not run_path.exists():
        raise FileNotFoundError(f"no run at {run_path}")
    records = load_rollouts(run_path)
    metrics = step_metrics(records, mode)
    if not metrics:
        raise ValueError(f"the rollout log of {run_path} has no {mode!r} records")
    if plots:
        try:
            import matplotlib

            matplotlib.use("Agg")
            import matplotlib.pyplot as plt
        except ImportError:
            raise ImportError("the report's plots need matplotlib: pip install 'vlmgym[rl]' (or pass plots=False, "
                              "--no-plots)") from None
    base = run_path if run_path.is_dir() else run_path.parent
    if base.name == "rollouts":
        base = base.parent
    out_dir = Path(out) if out is not None else base / "report"
    out_dir.mkdir(parents=True, exist_ok=True)
    games = sorted(metrics, key=lambda g: (g != _ALL, g))
    steps_all = sorted({s for g in metrics.values() for s in g})
    window = smooth or max(1, len(steps_all) // 20)

    # -- CSV --------------------------------------------------------------------------------------------------
    csv_path = out_dir / "metrics.csv"
    with open(csv_path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["step", "game", "n", *METRICS])
        for step in steps_all:
            for g in games:
                m = metrics[g].get(step)
                if m is not None:
                    w.writerow([step, g, m["n"], *("" if m[k] is None else f"{m[k]:.6g}" for k in METRICS)])

    # -- summary: first tenth, last tenth, whole run -------------------------------------------------------------
    tenth = max(1, len(steps_all) // 10)
    windows = {"first": steps_all[:tenth], "last": steps_all[-tenth:], "all": steps_all}
    summary = {g: {name: _pooled(s, records, g, mode) for name, s in windows.items()} for g in games}

    # -- plots ------------------------------------------------------------------------------------------------
    plot_paths: list[Path] = []
    if plots:
        for fname, (title, keys, ylabel) in _PLOTS.items():
            fig, ax = plt.subplots(figsize=(7.5, 4.2), dpi=110)
            drawn = False
            for gi, g in enumerate(games):
                xs = np.array(sorted(metrics[g]))
                for ki, key in enumerate(keys):
                    ys = np.array([np.nan if metrics[g][s][key] is None else metrics[g][s][key] for s in xs])
                    if np.isnan(ys).all():
                        continue
                    # colour: the metric; line style: the game (all games: solid)
                    color, style = f"C{ki}", ("-", "--", ":", "-.")[gi % 4]
                    label = _LABELS[key] if len(games) == 1 else f"{_LABELS[key]} ({g})"
                    if window > 1:
                        ax.plot(xs, ys, color=color, linestyle=style, alpha=0.2, linewidth=0.8)
                        ax.plot(xs, _smooth(ys, window), color=color, linestyle=style, linewidth=1.8, label=label)
                    else:
                        ax.plot(xs, ys, color=color, linestyle=style, linewidth=1.6,
                                marker="o" if len(xs) < 30 else None, markersize=3, label=label)
                    drawn = True
            ax.set_title(title + (f" (moving average over {window} steps)" if window > 1 else ""))
            ax.set_xlabel("training step" if mode == "train" else "step")
            ax.set_ylabel(ylabel)
            ax.grid(alpha=0.3)
            if drawn:
                ax.legend(fontsize=8)
            else:
                ax.text(0.5, 0.5, "no data (e.g. no exact perception yet)", ha="center", va="center",
                        transform=ax.transAxes)
            fig.tight_layout()
            path = out_dir / fname
            fig.savefig(path)
            plt.close(fig)
            plot_paths.append(path)

    # -- Markdown ---------------------------------------------------------------------------------------------------
    lines = [f"# Training report: {base.name}", "",
             f"{sum(1 for r in records if r.get('mode', 'train') == mode)} {mode} completions over "
             f"{len(steps_all)} steps ({steps_all[0]}-{steps_all[-1]}); games: "
             f"{', '.join(g for g in games if g != _ALL)}.", "",
             "P_acc: exact perception block; cell acc: share of cells named correctly; R_acc: success rate "
             "among completions with an exact perception (\"-\" when none was exact); localization: share of "
             "responses whose perception tags cells with coordinates, e.g. `(0,0): Red circle`.", ""]
    for g in games:
        title = "All games" if g == _ALL else g
        lines += [f"## {title}", "", "| | completions | " + " | ".join(METRICS) + " |",
                  "|---|---|" + "---|" * len(METRICS)]
        for name, label in (("first", f"first {tenth} step(s)"), ("last", f"last {tenth} step(s)"),
                            ("all", "whole run")):
            m = summary[g][name]
            lines.append(f"| {label} | {m['n']} | " + " | ".join(_fmt(m[k]) for k in METRICS) + " |")
        lines.append("")
    if plot_paths:
        lines += ["## Curves", ""]
        for p in plot_paths:
            lines += [f"![{p.stem}]({p.name})", ""]
    lines += [f"Per-step values: [{csv_path.name}]({csv_path.name}).", ""]
    md = out_dir / "report.md"
    md.write_text("\n".join(lines), encoding="utf-8")
    return ReportResult(out_dir, md, csv_path, plot_paths, metrics, summary)
