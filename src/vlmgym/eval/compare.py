"""``vlmgym compare``: a leaderboard of evaluation folders, like the G1 paper's Figure 1.

For every evaluation folder given, the protocol metric of each game (mean ± sample std over
runs; 2048: summed merge score, tile games: successful moves) becomes one cell of a table with one
row per policy and one column per environment id. Written to the output folder:

- ``leaderboard.md``: the table in Markdown, then the warnings;
- ``leaderboard.png``: a grouped bar chart, one panel per game (needs matplotlib, the ``eval``
  extra; without it the chart is skipped and the page says so);
- ``leaderboard.html``: a self-contained page with the table, the chart and links to each run's
  ``report.html``;
- ``leaderboard.json``: the same numbers for scripts.

Optional reference rows (published numbers, e.g. the paper's) come from a JSON file, drawn as
grey bars::

    {"source": "G1 paper (arXiv 2505.13426), Figure 1", "protocol": "paper",
     "rows": {"GPT-4o": {"VLMGym/2048-v0": 123.0, "VLMGym/Swap-v0": 4.0}}}

Values may be a number or ``{"mean": m, "std": s}``; ``null`` means "not published" and is left
out. The comparison warns where runs differ in protocol, runs x steps, warm-up, env kwargs or
package versions (all recorded in each folder's ``config.json``), where a run is incomplete, and
where reference rows use another protocol than a run.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["Leaderboard", "build_leaderboard", "load_reference", "write_leaderboard"]

@dataclass
class Leaderboard:
    """Rows (policies, then reference rows) x columns (env ids) of the protocol metric."""

    columns: list[str]
    metrics: dict[str, str]  # env id -> metric name
    rows: list[dict[str, Any]]
    warnings: list[str] = field(default_factory=list)
    reference_source: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"columns": self.columns, "metrics": self.metrics, "rows": self.rows,
                "warnings": self.warnings, "reference_source": self.reference_source}


def _cell(value: Any, where: str) -> dict[str, Any] | None:
    if value is None:
        return None
    if isinstance(value, dict):
        mean, std = value.get("mean"), value.get("std")
    else:
        mean, std = value, None
    if isinstance(mean, bool) or not isinstance(mean, (int, float)):
        raise ValueError(f"{where}: expected a number or {{\"mean\": ..., \"std\": ...}}, got {value!r}")
    if std is not None and (isinstance(std, bool) or not isinstance(std, (int, float))):
        raise ValueError(f"{where}: std must be a number, got {std!r}")
    return {"mean": float(mean), "std": None if std is None else float(std), "runs": None}


def load_reference(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a reference file (format in the module docstring); ``ValueError`` when malformed."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise ValueError(f"reference file {path} not found") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"reference file {path} is not JSON: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("rows"), dict):
        raise ValueError(f"reference file {path} needs a \"rows\" object: {{model: {{env_id: value}}}}")
    rows = {}
    for model, values in data["rows"].items():
        if not isinstance(values, dict):
            raise ValueError(f"reference file {path}: row {model!r} must map env ids to values")
        cells = {env_id: _cell(v, f"{path}: {model} / {env_id}") for env_id, v in values.items()}
        rows[str(model)] = {k: v for k, v in cells.items() if v is not None}
    return {"source": str(data.get("source") or path), "protocol": data.get("protocol"), "rows": rows}


def _load_run(path: Path) -> dict[str, Any]:
    from vlmgym.eval.report import summarize

    if not (path / "config.json").exists():
        raise ValueError(f"{path} is not an evaluation folder (no config.json); run `vlmgym eval --out {path}` first")
    summary = summarize(path)
    summary["config"] = json.loads((path / "config.json").read_text())
    return summary


def _differences(label: str, values: dict[str, Any]) -> str | None:
    """A warning naming what differs between folders (for dicts: only the keys that differ)."""
    dump = {d: json.dumps(v, sort_keys=True) for d, v in values.items()}
    if len(set(dump.values())) <= 1:
        return None
    if all(isinstance(v, dict) for v in values.values()):
        keys = sorted({k for v in values.values() for k in v})
        parts = []
        for k in keys:
            seen = {d: json.dumps(v[k], sort_keys=True) if k in v else "(unset)" for d, v in values.items()}
            if len(set(seen.values())) > 1:
                parts.append(f"{k} (" + ", ".join(f"{d}: {x}" for d, x in seen.items()) + ")")
        return f"runs differ in {label}: " + "; ".join(parts)
    return f"runs differ in {label}: " + "; ".join(f"{d}: {x}" for d, x in dump.items())


def build_leaderboard(run_dirs: list[str | os.PathLike[str]], labels: list[str] | None = None,
                      reference: dict[str, Any] | None = None) -> Leaderboard:
    """The leaderboard of ``run_dirs`` (row labels default to each folder's policy spec).

    Folders with the same label are one row (e.g. one policy evaluated game by game); the same
    label and game twice gets the folder name added to tell them apart, with a warning.
    """
    if not run_dirs:
        raise ValueError("give at least one evaluation folder, e.g. vlmgym compare runs/eval/*")
    if labels and len(labels) != len(run_dirs):
        raise ValueError(f"--label given {len(labels)} times for {len(run_dirs)} folders: give one per folder")
    runs = [_load_run(Path(d)) for d in run_dirs]
    columns: list[str] = []
    metrics: dict[str, str] = {}
    rows: dict[str, dict[str, Any]] = {}
    warnings: list[str] = []
    for i, (d, s) in enumerate(zip(run_dirs, runs)):
        label = labels[i] if labels else s["policy_spec"]
        if label in rows and set(rows[label]["cells"]) & set(s["games"]):
            new = f"{label} ({Path(d).name})"
            warnings.append(f"{d}: label {label!r} already has {sorted(set(rows[label]['cells']) & set(s['games']))}; "
                            f"shown as {new!r} (use --label to name rows)")
            label = new
        row = rows.setdefault(label, {"label": label, "kind": "run", "paths": [], "cells": {}})
        row["paths"].append(str(d))
        if not s["complete"]:
            warnings.append(f"{d}: incomplete (not every run has all its steps); its numbers are partial")
        for env_id, g in s["games"].items():
            if env_id not in columns:
                columns.append(env_id)
            if metrics.setdefault(env_id, g["metric"]) != g["metric"]:
                warnings.append(f"{d}: {env_id} counts {g['metric']}, other folders {metrics[env_id]}")
            m = g["stats"]["metric"]
            row["cells"][env_id] = {"mean": m["mean"], "std": m["std"], "runs": s["runs"], "path": str(d)}
    named = {str(d): s for d, s in zip(run_dirs, runs)}
    checks: list[tuple[str, dict[str, Any]]] = [
        ("protocol", {d: s["protocol"]["name"] for d, s in named.items()}),
        ("runs x steps", {d: f"{s['runs']} x {s['steps']}" for d, s in named.items()}),
        ("package versions", {d: s["versions"] for d, s in named.items()}),
    ]
    for env_id in columns:
        having = {d: s["games"][env_id] for d, s in named.items() if env_id in s["games"]}
        checks += [(f"env kwargs of {env_id}", {d: g["env_kwargs"] for d, g in having.items()}),
                   (f"warm-up steps of {env_id}", {d: g["warmup_steps"] for d, g in having.items()})]
    for label, values in checks:
        w = _differences(label, values)
        if w:
            warnings.append(w)
    out_rows = list(rows.values())
    source = None
    if reference is not None:
        source = reference["source"]
        ref_protocol = reference.get("protocol")
        if ref_protocol:
            other = sorted(d for d, s in named.items() if s["protocol"]["name"] != ref_protocol)
            if other:
                warnings.append(f"reference rows use the {ref_protocol} protocol; {', '.join(other)} did not")
        for model, cells in reference["rows"].items():
            shown = {k: v for k, v in cells.items() if k in columns}
            if shown:
                out_rows.append({"label": model, "kind": "reference", "paths": [], "cells": shown})
    return Leaderboard(columns=columns, metrics=metrics, rows=out_rows, warnings=warnings, reference_source=source)


def _fmt(cell: dict[str, Any] | None) -> str:
    if cell is None or cell["mean"] is None:
        return "-"
    mean = f"{cell['mean']:.1f}"
    return mean if cell["std"] is None else f"{mean} ± {cell['std']:.1f}"


def markdown(board: Leaderboard) -> str:
    """The leaderboard as Markdown (table, reference source, warnings)."""
    head = "| policy | " + " | ".join(f"{c} ({board.metrics[c]})" for c in board.columns) + " |"
    lines = ["# vlmgym leaderboard", "", head, "|---|" + "---:|" * len(board.columns)]
    for row in board.rows:
        name = row["label"] + (" *(reference)*" if row["kind"] == "reference" else "")
        lines.append(f"| {name} | " + " | ".join(_fmt(row["cells"].get(c)) for c in board.columns) + " |")
    lines += ["", "Mean ± sample std over runs of the protocol metric (2048: summed merge score; tile "
              "games: successful moves)."]
    if board.reference_source:
        lines += ["", f"Reference rows: {board.reference_source}."]
    if board.warnings:
        lines += ["", "## Warnings", ""] + [f"- {w}" for w in board.warnings]
    return "\n".join(lines) + "\n"


def write_chart(board: Leaderboard, path: Path) -> Path:
    """``leaderboard.png``: one panel per game, one bar per row (reference rows grey, hatched)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    n = len(board.columns)
    per_panel = min(7.0, max(3.2, 0.62 * len(board.rows) + 1.4))
    fig, axes = plt.subplots(1, n, figsize=(per_panel * n, 4.4), squeeze=False)
    palette = plt.get_cmap("tab10")
    run_index = {r["label"]: i for i, r in enumerate(r for r in board.rows if r["kind"] == "run")}
    for ax, env_id in zip(axes[0], board.columns):
        labels, heights, errs, colors, hatches = [], [], [], [], []
        for row in board.rows:
            cell = row["cells"].get(env_id)
            if cell is None or cell["mean"] is None:
                continue
            labels.append(row["label"])
            heights.append(cell["mean"])
            errs.append(cell["std"] or 0.0)
            ref = row["kind"] == "reference"
            colors.append("#b8bec9" if ref else palette(run_index[row["label"]] % 10))
            hatches.append("//" if ref else "")
        x = range(len(labels))
        bars = ax.bar(x, heights, yerr=errs, width=0.7, color=colors, capsize=3, edgecolor="#3a4250",
                      linewidth=0.6, error_kw={"elinewidth": 0.9, "ecolor": "#3a4250"})
        for b, h in zip(bars, hatches):
            b.set_hatch(h)
        for b, v, e in zip(bars, heights, errs):  # the value above its error bar
            ax.annotate(f"{v:.1f}" if abs(v) < 1000 else f"{v:.0f}", (b.get_x() + b.get_width() / 2, max(v, 0) + e),
                        ha="center", va="bottom", fontsize=8, xytext=(0, 2), textcoords="offset points")
        ax.margins(y=0.12)
        ax.set_xticks(list(x))
        ax.set_xticklabels(labels, rotation=30, ha="right", fontsize=8)
        ax.set_title(f"{env_id}\n{board.metrics[env_id]}", fontsize=10)
        ax.grid(axis="y", alpha=0.3)
        ax.set_axisbelow(True)
        ax.spines[["top", "right"]].set_visible(False)
    fig.suptitle("vlmgym leaderboard: protocol metric per game (mean ± std over runs)", fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def write_leaderboard(board: Leaderboard, out: str | os.PathLike[str], *, chart: bool = True) -> dict[str, Any]:
    """Write ``leaderboard.{md,json,html}`` and, with matplotlib, ``leaderboard.png`` into ``out``.

    Returns ``{"files": [...], "skipped": {name: reason}}``.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    skipped: dict[str, str] = {}
    files = []
    png = out / "leaderboard.png"
    if chart:
        try:
            files.append(write_chart(board, png))
        except ImportError:
            skipped["chart"] = "matplotlib is not installed: pip install 'vlmgym[eval]'"
    else:
        skipped["chart"] = "disabled"
    if "chart" in skipped and png.exists():
        png.unlink()  # never show a chart of an earlier comparison
    (out / "leaderboard.md").write_text(markdown(board))
    (out / "leaderboard.json").write_text(json.dumps({**board.to_json(), "skipped": skipped}, indent=2) + "\n")
    (out / "leaderboard.html").write_text(_html(board, out, skipped), encoding="utf-8")
    files += [out / "leaderboard.md", out / "leaderboard.json", out / "leaderboard.html"]
    return {"files": files, "skipped": skipped}


def _html(board: Leaderboard, out: Path, skipped: dict[str, str]) -> str:
    from vlmgym.eval.html import esc, page

    best = {c: max((r["cells"][c]["mean"] for r in board.rows if c in r["cells"] and r["cells"][c]["mean"] is not None),
                   default=0.0) for c in board.columns}
    head = "".join(f"<th>{esc(c)}<br><span class='muted'>{esc(board.metrics[c])}</span></th>" for c in board.columns)
    body = []
    for row in board.rows:
        ref = row["kind"] == "reference"
        links = []
        for p in row["paths"]:
            target = Path(p) / "report.html"
            if target.exists():
                rel = os.path.relpath(target.resolve(), out.resolve())
                links.append(f"<a href='{esc(Path(rel).as_posix())}'>report</a>")
        name = esc(row["label"]) + (" <span class='pill'>reference</span>" if ref else "")
        if links:
            name += " <span class='muted'>· " + " · ".join(links) + "</span>"
        cells = []
        for c in board.columns:
            cell = row["cells"].get(c)
            if cell is None or cell["mean"] is None:
                cells.append("<td class='muted'>-</td>")
                continue
            width = 0 if best[c] <= 0 else max(2, round(80 * max(cell["mean"], 0) / best[c]))
            cells.append(f"<td>{esc(_fmt(cell))}<span class='bar{' ref' if ref else ''}' style='width:{width}px'></span></td>")
        body.append(f"<tr class='{'ref' if ref else 'run'}'><td>{name}</td>{''.join(cells)}</tr>")
    warn = ""
    if board.warnings:
        warn = ("<section class='warnings'><h2>Warnings</h2><ul>"
                + "".join(f"<li>{esc(w)}</li>" for w in board.warnings) + "</ul></section>")
    if "chart" in skipped:
        chart = f"<p class='muted'>Chart not written: {esc(skipped['chart'])}.</p>"
    else:
        chart = "<img class='figure' src='leaderboard.png' alt='grouped bar chart of the protocol metric per game'>"
    ref_note = f"<p class='muted'>Reference rows: {esc(board.reference_source)}.</p>" if board.reference_source else ""
    n_runs = sum(r["kind"] == "run" for r in board.rows)
    html_body = (
        "<header><h1>vlmgym leaderboard</h1><div class='sub'>"
        f"{n_runs} policies · {len(board.columns)} games · protocol metric: mean ± sample std over runs</div></header>"
        f"<main>{warn}<section><h2>Table</h2><table class='data lb' id='leaderboard'><tr><th>policy</th>{head}</tr>"
        f"{''.join(body)}</table>{ref_note}</section>"
        f"<section><h2>Chart</h2>{chart}</section></main>")
    return page("vlmgym leaderboard", html_body, style=_STYLE)


_STYLE = """
table.lb { width:auto; }
table.lb th { text-transform:none; letter-spacing:0; font-size:12.5px; color:var(--ink); vertical-align:bottom; }
table.lb th .muted { font-weight:400; }
table.lb td, table.lb th { padding:7px 16px; }
table.lb tr.ref td { color:#475467; background:#fafbfc; }
"""
