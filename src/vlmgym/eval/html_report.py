"""``report.html``: the evaluation folder as one page to look at.

The page shows the summary table, ``curves.png``, every run's video and a step browser: pick a
game, a run and a step (or use the arrow keys) to see the image the policy saw with the parsed
action outlined, its full answer with ``<perception>``, ``<think>`` and ``<answer>`` highlighted,
the status, reward and score, and the ground-truth board next to the model's perception with the
wrong cells marked.

Like every report it is rebuilt from the folder alone (``config.json``, ``steps.jsonl``,
``checkpoints.jsonl``): the boards the policy saw are the stored snapshots, rendered again (the
same renderer draws observations, so the pixels are those the policy got). It stays small for
10 runs x 100 steps x many games:

- ``report.html`` holds the summary and one status letter per step, nothing per step beyond that;
- ``report/runs/<game>_runNN.js``: the steps of one run (answers, perceived cells) and its
  distinct board texts, loaded only when that run is selected (a ``<script>`` tag, since browsers refuse ``fetch`` on
  ``file://``);
- ``report/img/<hash>.webp``: step images, stored once per distinct picture (a board an illegal
  move left unchanged is not stored again) and requested only for the step on screen. WebP
  lossless (pixel-exact); pictures over :data:`LOSSLESS_LIMIT` bytes (photo tiles such as CIFAR-10)
  are stored as lossy WebP quality 90 instead; PNG where Pillow lacks WebP.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from vlmgym.core.answer import board_cells, cell_matches, perceived_cells
from vlmgym.core.state import GameState
from vlmgym.eval.annotate import describe_action, outline_boxes
from vlmgym.eval.html import esc, json_for_script, page
from vlmgym.eval.records import read_jsonl

__all__ = ["LOSSLESS_LIMIT", "STATUS_CODES", "encode_step_image", "write_html_report"]

#: Bytes above which a lossless step image is stored lossy (photo tiles), see the module docstring.
LOSSLESS_LIMIT = 96 * 1024
#: One letter per step in the page's timelines.
STATUS_CODES = {"success": "s", "ok": "o", "illegal": "i", "unparsable": "u", "request_failed": "r"}


def _webp_available() -> bool:
    from PIL import features

    return bool(features.check("webp"))


def encode_step_image(frame: np.ndarray) -> tuple[bytes, str]:
    """``(bytes, extension)`` of a step image: WebP lossless, lossy above the limit, else PNG."""
    from PIL import Image

    if not _webp_available():
        from vlmgym.eval.policies import encode_png

        return encode_png(frame), "png"
    image = Image.fromarray(np.ascontiguousarray(frame))
    buf = io.BytesIO()
    image.save(buf, format="WEBP", lossless=True, method=0)  # method 0: fastest, still 2-4x below PNG
    if buf.tell() > LOSSLESS_LIMIT:
        buf = io.BytesIO()
        image.save(buf, format="WEBP", quality=90, method=2)
    return buf.getvalue(), "webp"


def _slug(env_id: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in env_id)


def _states(blobs: list[str]) -> list[GameState]:
    return [GameState.from_bytes(base64.b64decode(b)) for b in blobs]


def _video_for(out: Path, env_id: str, run: int) -> str | None:
    for ext in ("mp4", "gif"):
        rel = f"videos/{env_id.replace('/', '_')}_run{run:02d}.{ext}"
        if (out / rel).exists():
            return rel
    return None


def _status_code(rec: dict[str, Any]) -> str:
    return STATUS_CODES["success"] if rec["success"] else STATUS_CODES.get(rec["status"], "u")


class _ImageStore:
    """Content-addressed step images under ``report/img`` (one file per distinct picture)."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.names: dict[bytes, str] = {}
        self.bytes = 0
        self.last: tuple[np.ndarray, str] | None = None

    def put(self, frame: np.ndarray) -> str:
        # most steps that change nothing (illegal moves) follow each other: a compare is ~10x
        # cheaper than hashing the frame again
        if self.last is not None and np.array_equal(self.last[0], frame):
            return self.last[1]
        name = self._put(frame)
        self.last = (frame, name)
        return name

    def _put(self, frame: np.ndarray) -> str:
        key = hashlib.blake2b(np.ascontiguousarray(frame).data, digest_size=10).digest()
        name = self.names.get(key)
        if name is None:
            data, ext = encode_step_image(frame)
            name = f"{key.hex()}.{ext}"
            self.folder.mkdir(parents=True, exist_ok=True)
            (self.folder / name).write_bytes(data)
            self.names[key] = name
            self.bytes += len(data)
        return f"report/img/{name}"


def _step_entry(rec: dict[str, Any], board: str, board_index: int, image: str | None,
                boxes: list[Any], action: str) -> dict[str, Any]:
    answer = rec["answer"]
    truth = board_cells(board)
    seen = None if answer is None else perceived_cells(answer, board)
    wrong = None if seen is None else [[not cell_matches(s, t) for s, t in zip(sr, tr)]
                                       for sr, tr in zip(seen, truth)]
    return {
        "step": rec["step"], "episode": rec["episode"], "answer": answer, "action": action,
        "status": rec["status"], "success": rec["success"], "parse_error": rec["parse_error"],
        "error": rec["error"], "reward": rec["reward"], "gain": rec["gain"], "score": rec["score"],
        "perception_exact": rec["perception_exact"], "cell_accuracy": rec["perception_cell_accuracy"],
        "format_ok": rec["format_ok"], "end": rec["end_reason"] if rec["terminated"] or rec["truncated"] else None,
        "latency_s": rec["latency_s"], "image": image, "boxes": boxes, "board": board_index,
        "seen": seen, "wrong": wrong,
    }


def write_html_report(out: str | Path, summary: dict[str, Any], *, images: bool = True) -> dict[str, Any]:
    """Write ``report.html`` and ``report/`` for the evaluation in ``out``; returns what was written.

    ``images=False`` leaves the step images out (the browser then shows everything but the picture).
    The returned dict has ``page_bytes``, ``images`` (distinct pictures), ``image_bytes`` and
    ``steps``.
    """
    import gymnasium as gym

    out = Path(out)
    config = json.loads((out / "config.json").read_text())
    checkpoints = {cp["step"]: cp for cp in read_jsonl(out / "checkpoints.jsonl")}
    records: dict[tuple[str, int], list[dict[str, Any]]] = {}
    for r in read_jsonl(out / "steps.jsonl"):
        records.setdefault((r["env_id"], r["run"]), []).append(r)
    folder = out / "report"
    shutil.rmtree(folder, ignore_errors=True)  # derived data: rebuilt whole, no stale pictures
    (folder / "runs").mkdir(parents=True)
    store = _ImageStore(folder / "img")
    games = []
    steps_written = 0
    for env_id, g in summary["games"].items():
        env_kwargs = config["identity"]["env_kwargs"]
        vec: Any = gym.make_vec(env_id, num_envs=1, **env_kwargs)
        try:
            layout, codec = vec.layout, vec.game.codec
            seen_states = {k: _states(cp["games"][env_id]["states"]) for k, cp in checkpoints.items()}
            runs = []
            width = height = 0
            for run in range(summary["runs"]):
                recs = sorted(records.get((env_id, run), []), key=lambda r: r["step"])
                recs = [r for r in recs if r["step"] - 1 in seen_states]
                states = [seen_states[r["step"] - 1][run] for r in recs]  # the board before step t
                frames = vec.render_states(states) if images and states else None
                if frames is not None:
                    height, width = frames.shape[1:3]
                boards = vec.board_texts(states) if states else []
                steps = []
                # boards an illegal move left unchanged repeat: each distinct one is written once
                board_index: dict[str, int] = {}
                for k, rec in enumerate(recs):
                    image = store.put(frames[k]) if frames is not None else None
                    b = board_index.setdefault(boards[k], len(board_index))
                    steps.append(_step_entry(rec, boards[k], b, image, outline_boxes(layout, codec, rec["action"]),
                                             describe_action(rec, codec)))
                table = [{"text": text, "cells": board_cells(text)} for text in board_index]
                key = f"{_slug(env_id)}_run{run:02d}"
                (folder / "runs" / f"{key}.js").write_text(
                    f"window.VLMGYM_RUN({json_for_script(key)},{json_for_script({'boards': table, 'steps': steps})});\n",
                    encoding="utf-8")
                steps_written += len(steps)
                runs.append({"run": run, "key": key, "src": f"report/runs/{key}.js",
                             "poster": steps[0]["image"] if steps else None,
                             "timeline": "".join(_status_code(r) for r in recs),
                             "metric": g["per_run"]["metric"][run], "video": _video_for(out, env_id, run)})
        finally:
            vec.close()
        games.append({"env_id": env_id, "game": g["game"], "metric": g["metric"], "runs": runs,
                      "obs_mode": {**g["env_kwargs"], **env_kwargs}.get("obs_mode", "image"),
                      "image_size": [int(width), int(height)]})
    data = {"summary": summary, "games": games, "images": images,
            "curves": "curves.png" if (out / "curves.png").exists() else None}
    text = page(f"vlmgym eval: {summary['policy_spec']}", _BODY.format(
        title=esc(f"vlmgym eval: {summary['policy_spec']}"),
        sub=esc(f"protocol {summary['protocol']['name']} · {summary['runs']} runs x {summary['steps']} steps · "
                f"seed {summary['seed']} · {summary.get('created') or ''}")),
        data=data, script=_SCRIPT, style=_STYLE)
    (out / "report.html").write_text(text, encoding="utf-8")
    return {"page_bytes": len(text.encode()), "images": len(store.names), "image_bytes": store.bytes,
            "steps": steps_written}


_BODY = """<header><h1>{title}</h1><div class="sub">{sub}</div></header>
<main>
<section id="summary"><h2>Summary</h2><div id="summary-table"></div><div id="summary-notes" class="muted"></div></section>
<section id="browser"><h2>Step browser</h2>
  <div class="controls">
    <label>Game <select id="sel-game"></select></label>
    <label>Run <select id="sel-run"></select></label>
    <label>Step <input id="sel-step" type="number" min="1" value="1"></label>
    <button id="prev" title="previous step (←)">◀</button><button id="next" title="next step (→)">▶</button>
    <span class="muted keys">← → step · ↑ ↓ run</span>
  </div>
  <div id="timeline" class="timeline" title="one mark per step: green success, grey legal without success, red illegal, orange unparsable, black request failed"></div>
  <div class="panes">
    <div class="pane-left">
      <div class="frame" id="frame"><img id="step-image" alt="the image the policy saw"><div id="boxes"></div></div>
      <div id="noimg" class="muted"></div>
      <div id="facts"></div>
    </div>
    <div class="pane-right">
      <h3>Answer</h3><pre id="answer" class="answer"></pre>
      <div class="grids">
        <div><h3>Ground truth</h3><div id="truth"></div></div>
        <div><h3>Model's perception <span id="pscore" class="muted"></span></h3><div id="seen"></div></div>
      </div>
      <details><summary>Ground-truth board text</summary><pre id="board" class="board"></pre></details>
    </div>
  </div>
</section>
<section id="curves-section"><h2>Curves</h2><div id="curves"></div></section>
<section id="videos"><h2>Videos</h2><div id="video-list"></div></section>
<section id="context"><h2>Configuration</h2><div id="config"></div></section>
</main>"""

_STYLE = """
.controls { display:flex; flex-wrap:wrap; gap:12px; align-items:center; margin-bottom:10px; }
.controls select, .controls input { font:inherit; padding:3px 6px; border:1px solid var(--line); border-radius:6px; }
.controls input { width:70px; }
.controls button { font:inherit; padding:3px 10px; border:1px solid var(--line); border-radius:6px; background:#fff; cursor:pointer; }
.keys { font-size:12px; }
.timeline { display:flex; gap:1px; height:16px; margin:4px 0 14px; }
.timeline span { flex:1; background:#cfd4dc; border-radius:2px; cursor:pointer; min-width:2px; }
.timeline span.s { background:var(--ok); } .timeline span.i { background:var(--bad); }
.timeline span.u { background:#ed8936; } .timeline span.r { background:#111; }
.timeline span.cur { outline:2px solid var(--accent); outline-offset:1px; }
.panes { display:grid; grid-template-columns:minmax(260px, 440px) 1fr; gap:22px; align-items:start; }
.frame { position:relative; display:block; width:100%; line-height:0; border-radius:6px; }
.frame img { display:block; width:100%; height:auto; border-radius:6px; }
.frame .box { position:absolute; border:3px solid var(--bad); border-radius:3px; box-shadow:0 0 0 1px #fff; }
.frame .box.ok { border-color:var(--ok); }
.frame .dir { position:absolute; left:8px; top:8px; background:rgba(29,35,48,.82); color:#fff; line-height:1.2;
  padding:4px 10px; border-radius:6px; font-weight:600; }
#noimg:empty { display:none; } #noimg { padding:18px; background:#eef0f3; border-radius:6px; }
#summary-table { overflow-x:auto; }
#summary-table th { white-space:normal; vertical-align:bottom; }
#curves img { max-width:980px; }
.facts { margin-top:10px; display:grid; grid-template-columns:auto 1fr; gap:3px 12px; font-size:13px; }
.facts dt { color:var(--muted); } .facts dd { margin:0; }
pre.answer { white-space:pre-wrap; word-break:break-word; background:#fbfbfc; border:1px solid var(--line);
  border-radius:6px; padding:10px; max-height:420px; overflow:auto; margin:0; }
pre.answer .tag { font-weight:700; } pre.answer .perception { color:var(--perc); background:#e6f6f8; }
pre.answer .think { color:var(--think); background:#f1ecfb; } pre.answer .answer { color:var(--ans); background:#fdf0e6; font-weight:600; }
.grids { display:flex; flex-wrap:wrap; gap:22px; }
table.cells td { border:1px solid var(--line); padding:3px 6px; font-size:12px; text-align:center; white-space:nowrap; }
table.cells td.bad { background:#fde8e8; color:#9b1c1c; } table.cells td.ok { background:#eaf7ef; }
table.cells td.missing { background:#f3f4f6; color:var(--muted); }
pre.board { background:#fbfbfc; border:1px solid var(--line); border-radius:6px; padding:8px; overflow:auto; }
.videos { display:grid; grid-template-columns:repeat(auto-fill, minmax(220px, 1fr)); gap:12px; }
.videos figure { margin:0; } .videos video, .videos img { width:100%; border-radius:6px; background:#eef0f3; }
.videos figcaption { font-size:12px; color:var(--muted); }
@media (max-width: 900px) { .panes { grid-template-columns:1fr; } }
"""

_SCRIPT = r"""
(function () {
  "use strict";
  const DATA = JSON.parse(document.getElementById("vlmgym-data").textContent);
  const S = DATA.summary;
  const $ = (id) => document.getElementById(id);
  const el = (tag, cls, text) => { const e = document.createElement(tag); if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text); return e; };
  const fmt = (v, digits) => (v === null || v === undefined) ? "-" :
    (typeof v === "number" ? (Number.isInteger(v) && digits === undefined ? String(v) : v.toFixed(digits === undefined ? 1 : digits)) : String(v));

  // -- summary table --------------------------------------------------------------------------
  function summaryTable() {
    const cols = [["protocol metric", null], ["success rate", "success_rate", 3], ["illegal", "illegal", 1],
      ["unparsable", "unparsable", 1], ["failed requests", "request_failed", 1],
      ["perception exact", "perception_exact_rate", 3], ["cell accuracy", "perception_cell_accuracy", 3],
      ["format", "format_rate", 3]];
    const t = el("table", "data"), head = el("tr");
    ["game", ...cols.map(c => c[0]), "reasoning acc."].forEach(h => head.appendChild(el("th", null, h)));
    t.appendChild(head);
    for (const [envId, g] of Object.entries(S.games)) {
      const tr = el("tr");
      tr.appendChild(el("td", null, envId));
      const m = g.stats.metric;
      const td = el("td");
      td.appendChild(el("b", null, m.mean === null ? "-" : `${fmt(m.mean)} ± ${fmt(m.std)}`));
      td.appendChild(el("span", "muted", ` ${g.metric} (${fmt(m.min)}..${fmt(m.max)})`));
      tr.appendChild(td);
      for (const c of cols.slice(1)) tr.appendChild(el("td", null, fmt(g.stats[c[1]].mean, c[2])));
      tr.appendChild(el("td", null, fmt(g.pooled.reasoning_accuracy, 3)));
      t.appendChild(tr);
    }
    $("summary-table").appendChild(t);
    const notes = [`policy ${JSON.stringify(S.policy)}`];
    if (!S.complete) notes.unshift("INCOMPLETE: not every run has all its steps (resume with --resume)");
    if (S.skipped && Object.keys(S.skipped).length)
      notes.push("skipped: " + Object.entries(S.skipped).map(([k, v]) => `${k} (${v})`).join("; "));
    $("summary-notes").textContent = notes.join(" · ");
  }

  // -- step browser ---------------------------------------------------------------------------
  const cache = {}, waiting = {};
  window.VLMGYM_RUN = function (key, data) {
    cache[key] = data;
    (waiting[key] || []).forEach(cb => cb(data));
    delete waiting[key];
  };
  function loadRun(run, cb) {
    if (cache[run.key]) { cb(cache[run.key]); return; }
    if (waiting[run.key]) { waiting[run.key].push(cb); return; }
    waiting[run.key] = [cb];
    const s = document.createElement("script");
    s.src = run.src;
    s.onerror = () => { $("answer").textContent = `could not load ${run.src}`; };
    document.head.appendChild(s);
  }
  const cur = { game: 0, run: 0, step: 1 };
  const clamp = (v, lo, hi) => Math.max(lo, Math.min(hi, v));

  function readHash() {
    const p = new URLSearchParams(location.hash.slice(1));
    if (p.has("game")) {
      const want = p.get("game");
      const i = DATA.games.findIndex(g => g.env_id === want);
      cur.game = i >= 0 ? i : clamp(parseInt(want, 10) || 0, 0, DATA.games.length - 1);
    }
    if (p.has("run")) cur.run = parseInt(p.get("run"), 10) || 0;
    if (p.has("step")) cur.step = parseInt(p.get("step"), 10) || 1;
  }
  function writeHash() {
    const g = DATA.games[cur.game];
    history.replaceState(null, "", `#game=${encodeURIComponent(g.env_id)}&run=${cur.run}&step=${cur.step}`);
  }
  function fillSelectors() {
    const sg = $("sel-game");
    DATA.games.forEach((g, i) => { const o = el("option", null, g.env_id); o.value = i; sg.appendChild(o); });
    sg.addEventListener("change", () => { cur.game = +sg.value; show(); });
    $("sel-run").addEventListener("change", () => { cur.run = +$("sel-run").value; show(); });
    $("sel-step").addEventListener("change", () => { cur.step = parseInt($("sel-step").value, 10) || 1; show(); });
    $("prev").addEventListener("click", () => move(-1, 0));
    $("next").addEventListener("click", () => move(1, 0));
    document.addEventListener("keydown", (e) => {
      if (e.target && ["INPUT", "SELECT", "TEXTAREA"].includes(e.target.tagName)) return;
      const d = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1] }[e.key];
      if (d) { e.preventDefault(); move(d[0], d[1]); }
    });
  }
  function move(ds, dr) { cur.step += ds; cur.run += dr; show(); }

  function show() {
    cur.game = clamp(cur.game, 0, DATA.games.length - 1);
    const g = DATA.games[cur.game];
    cur.run = clamp(cur.run, 0, g.runs.length - 1);
    const run = g.runs[cur.run];
    cur.step = clamp(cur.step, 1, Math.max(run.timeline.length, 1));
    $("sel-game").value = cur.game;
    const sr = $("sel-run");
    if (sr.dataset.game !== String(cur.game)) {
      sr.textContent = "";
      g.runs.forEach(r => { const o = el("option", null, `run ${r.run} · ${g.metric} ${fmt(r.metric)}`); o.value = r.run; sr.appendChild(o); });
      sr.dataset.game = String(cur.game);
    }
    sr.value = cur.run;
    $("sel-step").max = run.timeline.length;
    $("sel-step").value = cur.step;
    timeline(run);
    writeHash();
    const want = { ...cur };
    loadRun(run, (data) => { if (want.game === cur.game && want.run === cur.run && want.step === cur.step)
      render(g, data.steps[cur.step - 1], data.boards); });
  }
  function timeline(run) {
    const tl = $("timeline");
    if (tl.dataset.key !== run.key) {
      tl.textContent = "";
      [...run.timeline].forEach((c, i) => { const s = el("span", c); s.title = `step ${i + 1}`;
        s.addEventListener("click", () => { cur.step = i + 1; show(); }); tl.appendChild(s); });
      tl.dataset.key = run.key;
    }
    [...tl.children].forEach((s, i) => s.classList.toggle("cur", i === cur.step - 1));
  }

  function highlight(pre, text) {
    pre.textContent = "";
    if (text === null || text === undefined) { pre.appendChild(el("span", "muted", "(no answer: the request failed)")); return; }
    const re = /<\s*(\/?)\s*(perception|think|answer)\s*>/gi;
    let open = null, last = 0, m;
    const push = (s) => { if (s) pre.appendChild(open ? el("span", open, s) : document.createTextNode(s)); };
    while ((m = re.exec(text)) !== null) {
      push(text.slice(last, m.index));
      const name = m[2].toLowerCase();
      if (!m[1]) open = name;
      pre.appendChild(el("span", `tag ${name}`, m[0]));
      if (m[1] && open === name) open = null;
      last = re.lastIndex;
    }
    push(text.slice(last));
  }
  function grid(target, cells, wrong) {
    target.textContent = "";
    if (!cells) { target.appendChild(el("span", "muted", "no <perception> block")); return; }
    const t = el("table", "cells");
    cells.forEach((row, r) => { const tr = el("tr");
      row.forEach((v, c) => {
        const bad = wrong && wrong[r][c];
        const td = el("td", v === null ? "missing" : (wrong ? (bad ? "bad" : "ok") : ""), v === null ? "—" : (v === "" ? "·" : v));
        td.title = `(${r}, ${c})`;
        tr.appendChild(td); });
      t.appendChild(tr); });
    target.appendChild(t);
  }
  function render(g, d, boards) {
    if (!d) { $("answer").textContent = "no such step"; return; }
    const board = boards[d.board];
    const img = $("step-image"), boxes = $("boxes"), noimg = $("noimg");
    boxes.textContent = ""; noimg.textContent = "";
    if (d.image) {
      img.style.display = "";
      if (img.getAttribute("src") !== d.image) img.src = d.image;
      const [w, h] = g.image_size;
      d.boxes.forEach(([x0, y0, x1, y1]) => { const b = el("div", d.success ? "box ok" : "box");
        b.style.left = (100 * x0 / w) + "%"; b.style.top = (100 * y0 / h) + "%";
        b.style.width = (100 * (x1 - x0) / w) + "%"; b.style.height = (100 * (y1 - y0) / h) + "%";
        boxes.appendChild(b); });
      if (!d.boxes.length && d.action && d.status !== "unparsable" && d.status !== "request_failed")
        boxes.appendChild(el("div", "dir", d.action));
    } else {
      img.style.display = "none"; img.removeAttribute("src");
      noimg.textContent = DATA.images ? "no image for this step" : "step images were not written (--no-step-images)";
    }
    const facts = $("facts"); facts.textContent = "";
    const dl = el("dl", "facts"); facts.appendChild(dl);
    const row = (k, v) => { if (v === null || v === undefined || v === "") return; dl.appendChild(el("dt", null, k));
      const dd = el("dd"); if (v instanceof Node) dd.appendChild(v); else dd.textContent = String(v); dl.appendChild(dd); };
    const pill = el("span", "pill " + (d.success ? "ok" : (d.status === "ok" ? "" : "bad")), d.success ? `${d.status} · success` : d.status);
    row("status", pill);
    row("action", d.action);
    row("reward", (d.reward > 0 ? "+" : "") + d.reward);
    row("gain / score", `${d.gain} / ${d.score}`);
    row("episode", d.episode);
    row("parse error", d.parse_error);
    row("request error", d.error);
    row("format", d.format_ok === null ? null : (d.format_ok ? "all six tags" : "tags missing"));
    row("board", d.end ? `ended after this step (${d.end}); replaced` : null);
    row("latency", d.latency_s === null ? null : `${fmt(d.latency_s, 3)} s`);
    row("observation", g.obs_mode === "text" ? "the policy saw the board text only (the picture is for you)" : g.obs_mode);
    highlight($("answer"), d.answer);
    grid($("truth"), board.cells, d.wrong);
    grid($("seen"), d.seen, d.wrong);
    $("pscore").textContent = d.seen ? `exact ${d.perception_exact ? "yes" : "no"} · cells ${fmt(d.cell_accuracy, 3)}` : "";
    $("board").textContent = board.text;
  }

  // -- curves, videos, configuration ----------------------------------------------------------
  function media() {
    if (DATA.curves) { const i = el("img", "figure"); i.src = DATA.curves; i.alt = "curves"; i.loading = "lazy"; $("curves").appendChild(i); }
    else $("curves").appendChild(el("span", "muted", S.skipped && S.skipped.curves ? `not written: ${S.skipped.curves}` : "not written"));
    const vl = $("video-list");
    let any = false;
    DATA.games.forEach((g, gi) => {
      const det = el("details"); if (gi === 0) det.open = true;
      det.appendChild(el("summary", null, `${g.env_id} (${g.runs.length} runs)`));
      const box = el("div", "videos");
      g.runs.forEach(r => { if (!r.video) return; any = true;
        const fig = el("figure");
        let v;
        if (r.video.endsWith(".gif")) { v = el("img"); v.loading = "lazy"; v.alt = `run ${r.run}`; }
        else { v = el("video"); v.controls = true; v.preload = "none"; v.muted = true; if (r.poster) v.poster = r.poster; }
        v.src = r.video; fig.appendChild(v);
        fig.appendChild(el("figcaption", null, `run ${r.run} · ${g.metric} ${fmt(r.metric)}`)); box.appendChild(fig); });
      det.appendChild(box); vl.appendChild(det);
    });
    if (!any) { vl.textContent = ""; vl.appendChild(el("span", "muted", S.skipped && S.skipped.videos ? `not written: ${S.skipped.videos}` : "no videos")); }
    const c = $("config");
    const t = el("table", "data");
    const add = (k, v) => { const tr = el("tr"); tr.appendChild(el("td", null, k)); const td = el("td", "mono", v); td.style.textAlign = "left"; td.style.whiteSpace = "normal"; tr.appendChild(td); t.appendChild(tr); };
    add("protocol", `${S.protocol.name}: ${S.protocol.description}`);
    add("policy", JSON.stringify(S.policy));
    if (S.generation && Object.keys(S.generation).length) add("generation", JSON.stringify(S.generation));
    for (const [envId, g] of Object.entries(S.games)) add(envId, `warm-up ${g.warmup_steps} · ${JSON.stringify(g.env_kwargs)}`);
    add("versions", Object.entries(S.versions).map(([k, v]) => `${k} ${v}`).join(", "));
    c.appendChild(t);
  }

  summaryTable();
  fillSelectors();
  readHash();
  media();
  window.addEventListener("hashchange", () => { readHash(); show(); });
  show();
})();
"""
