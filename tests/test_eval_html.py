"""report.html: the data behind the step browser is what the policy saw and said; the page stays
small and lazy; hostile model text stays text; the opt-outs; rebuilt from the folder alone."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from vlmgym.cli import main
from vlmgym.core.answer import board_cells
from vlmgym.eval import EvalConfig, FunctionPolicy, evaluate
from vlmgym.eval.html import json_for_script
from vlmgym.eval.html_report import LOSSLESS_LIMIT, STATUS_CODES, encode_step_image
from vlmgym.eval.report import write_reports
from vlmgym.eval.runner import read_jsonl

QUIET = dict(video=False, curves=False, progress=False)
HOSTILE = "</script><script>window.pwned=1</script><img src=x onerror=\"window.pwned=2\"> \u2028 &amp; <!--"


def run_data(out: Path, key: str) -> dict:
    """The JSON passed to window.VLMGYM_RUN in a run's side file."""
    text = (out / "report" / "runs" / f"{key}.js").read_text()
    m = re.fullmatch(r'window\.VLMGYM_RUN\(("[^"]*"),(.*)\);\n', text, re.S)
    assert m, text[:200]
    assert json.loads(m.group(1)) == key
    return json.loads(m.group(2))


def page_data(out: Path) -> dict:
    html = (out / "report.html").read_text()
    m = re.search(r'<script type="application/json" id="vlmgym-data">(.*?)</script>', html, re.S)
    assert m
    return json.loads(m.group(1))


class Recorder:
    """A policy that remembers what it saw and answers in the paper's format, misreading one cell."""

    def __init__(self, answer_for=None):
        self.seen: dict[tuple[str, int, int], dict] = {}
        self.answer_for = answer_for

    def __call__(self, queries):
        out = []
        for q in queries:
            board = q.env.board_texts([q.state])[0]
            cells = [line.split("|") for line in board.splitlines()]
            truth = cells[0][0].strip()
            cells[0][0] = cells[0][0].replace(truth, "Nothing at all") if truth else " Nothing at all "
            perceived = "\n".join("|".join(r) for r in cells)
            pair = q.game.action_arity == 4
            action = f"({q.step % 3}, 1) ({q.step % 3 + 1}, 1)" if pair else str(q.step % 4)
            text = self.answer_for(q) if self.answer_for else (
                f"<perception>\n{perceived}\n</perception>\n<think>\nstep {q.step} of run {q.run}\n</think>\n"
                f"<answer>{action}</answer>")
            self.seen[(q.env_id, q.run, q.step)] = {"image": q.image.copy(), "board": board, "answer": text}
            out.append(text)
        return out


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    out = tmp_path_factory.mktemp("html") / "ev"
    rec = Recorder()
    evaluate(EvalConfig(["VLMGym/Shisensho-v0", "VLMGym/2048-v0"], runs=2, steps=6, out=str(out), **QUIET),
             policy=FunctionPolicy(rec, "recorder"))
    return out, rec


def test_step_browser_data_is_what_the_policy_saw_and_said(recorded):
    out, rec = recorded
    records = {(r["env_id"], r["run"], r["step"]): r for r in read_jsonl(out / "steps.jsonl")}
    index = page_data(out)
    assert [g["env_id"] for g in index["games"]] == ["VLMGym/Shisensho-v0", "VLMGym/2048-v0"]
    for g in index["games"]:
        for run in g["runs"]:
            data = run_data(out, run["key"])
            assert len(data["steps"]) == 6 and run["src"] == f"report/runs/{run['key']}.js"
            assert run["timeline"] == "".join(
                STATUS_CODES["success"] if records[g["env_id"], run["run"], t]["success"]
                else STATUS_CODES[records[g["env_id"], run["run"], t]["status"]] for t in range(1, 7))
            for d in data["steps"]:
                key = (g["env_id"], run["run"], d["step"])
                seen, record = rec.seen[key], records[key]
                # the picture, pixel for pixel (lossless), is the observation the policy got
                picture = np.asarray(Image.open(out / d["image"]).convert("RGB"))
                assert np.array_equal(picture, seen["image"]), key
                assert g["image_size"] == [seen["image"].shape[1], seen["image"].shape[0]]
                assert d["answer"] == seen["answer"] and d["status"] == record["status"]
                assert d["reward"] == record["reward"] and d["score"] == record["score"]
                board = data["boards"][d["board"]]
                assert board["text"] == seen["board"] and board["cells"] == board_cells(seen["board"])
                # exactly the misread cell is marked wrong, and the model's reading is shown there
                wrong = [(r, c) for r, row in enumerate(d["wrong"]) for c, w in enumerate(row) if w]
                assert wrong == [(0, 0)] and d["seen"][0][0] == "Nothing at all"
                if g["env_id"] == "VLMGym/Shisensho-v0":  # cells (t % 3, 1), (t % 3 + 1, 1) of 56 px
                    r = d["step"] % 3
                    assert d["boxes"] == [[56, 56 * r, 112, 56 * r + 56], [56, 56 * r + 56, 112, 56 * r + 112]]
                    assert d["action"] == f"({r}, 1) ({r + 1}, 1)"
                else:
                    assert d["boxes"] == [] and d["action"].startswith(str(d["step"] % 4))


def test_identical_pictures_are_stored_once(recorded):
    out, _ = recorded
    names = set()
    for g in page_data(out)["games"]:
        for run in g["runs"]:
            names |= {d["image"] for d in run_data(out, run["key"])["steps"]}
    files = sorted((out / "report" / "img").iterdir())
    assert {f"report/img/{f.name}" for f in files} == names
    pixels = [np.asarray(Image.open(f).convert("RGB")).tobytes() for f in files]
    assert len(set(pixels)) == len(pixels)  # no picture twice
    # illegal moves on Shisen-Sho leave the board as it was: fewer files than steps
    assert len(files) < 2 * 2 * 6


def test_the_page_stays_small_whatever_the_answers(tmp_path):
    """Answers live in the per-run side files, not in report.html: answers 20 kB longer leave the
    page as it was (only the timing in its summary differs) and grow the side files."""
    sizes = {}
    for name, filler in (("short", ""), ("long", "x" * 20_000)):
        out = tmp_path / name
        rec = Recorder(answer_for=lambda q, f=filler: f"<think>{f}</think><answer>0</answer>")
        evaluate(EvalConfig(["VLMGym/2048-v0"], runs=3, steps=5, out=str(out), seed=1, **QUIET),
                 policy=FunctionPolicy(rec, "same-name"))
        sizes[name] = (len((out / "report.html").read_bytes()),
                       sum(f.stat().st_size for f in (out / "report" / "runs").iterdir()))
    assert abs(sizes["long"][0] - sizes["short"][0]) < 200  # timestamps differ, nothing else
    assert sizes["long"][1] > sizes["short"][1] + 0.99 * 3 * 5 * 20_000  # latencies vary in length


def test_hostile_answers_cannot_break_out_of_the_data(tmp_path):
    out = tmp_path / "ev"
    rec = Recorder(answer_for=lambda q: HOSTILE + "<answer>1</answer>")
    evaluate(EvalConfig(["VLMGym/2048-v0"], runs=1, steps=2, out=str(out), **QUIET),
             policy=FunctionPolicy(rec, "</script><b>policy"))
    html = (out / "report.html").read_text()
    # one closing tag per script element of the page (the data blob and the inline script)
    assert html.count("</script>") == html.count("<script") == 2
    assert "<b>policy" not in html and "\u2028" not in html
    for js in (out / "report" / "runs").iterdir():
        text = js.read_text()
        assert "<" not in text and ">" not in text and "\u2028" not in text
    steps = run_data(out, "VLMGym_2048-v0_run00")["steps"]
    assert steps[0]["answer"] == HOSTILE + "<answer>1</answer>"  # exactly the text, once decoded
    assert json.loads(json_for_script({"a": HOSTILE})) == {"a": HOSTILE}


def test_opt_outs_and_what_was_skipped(tmp_path):
    base = ["eval", "VLMGym/2048-v0", "--runs", "2", "--steps", "3", "--no-video", "--no-curves", "--no-progress"]
    assert main([*base, "--out", str(tmp_path / "a"), "--no-step-images"]) == 0
    summary = json.loads((tmp_path / "a" / "summary.json").read_text())
    assert summary["skipped"]["step_images"] == "disabled"
    assert (tmp_path / "a" / "report.html").exists() and not (tmp_path / "a" / "report" / "img").exists()
    data = run_data(tmp_path / "a", "VLMGym_2048-v0_run00")
    assert all(d["image"] is None for d in data["steps"]) and page_data(tmp_path / "a")["images"] is False
    assert main([*base, "--out", str(tmp_path / "b"), "--no-html"]) == 0
    assert json.loads((tmp_path / "b" / "summary.json").read_text())["skipped"]["html"] == "disabled"
    assert not (tmp_path / "b" / "report.html").exists() and not (tmp_path / "b" / "report").exists()


def test_rebuilt_from_the_folder_alone(recorded):
    out, _ = recorded
    before = {p.relative_to(out): p.read_bytes() for p in (out / "report").rglob("*") if p.is_file()}
    (out / "report" / "img" / "stale.webp").write_bytes(b"old")
    write_reports(out, video=False, curves=False)
    after = {p.relative_to(out): p.read_bytes() for p in (out / "report").rglob("*") if p.is_file()}
    assert after == before  # identical, and nothing stale is left behind


def test_videos_and_curves_are_linked_when_written(tmp_path):
    out = tmp_path / "ev"
    evaluate(EvalConfig(["VLMGym/Swap-v0"], runs=2, steps=3, out=str(out), progress=False))
    data = page_data(out)
    assert data["curves"] == "curves.png" and (out / "curves.png").exists()
    for run in data["games"][0]["runs"]:
        assert run["video"] and (out / run["video"]).exists()
        assert run["poster"] and (out / run["poster"]).exists()


def test_photo_tiles_are_stored_lossy_below_the_limit(cifar10_archive):
    import gymnasium as gym

    vec = gym.make_vec("VLMGym/ShisenshoCifar10-v0", num_envs=1, cifar10_path=str(cifar10_archive))
    obs, _ = vec.reset(seed=0)
    data, ext = encode_step_image(obs[0])
    assert ext == "webp" and len(data) <= LOSSLESS_LIMIT
    picture = np.asarray(Image.open(__import__("io").BytesIO(data)).convert("RGB")).astype(int)
    other = vec.reset(seed=1)[0][0].astype(int)
    # lossy (the tests' pictures are noise, the hardest case), but far closer to its own board
    assert 0 < np.abs(picture - obs[0]).mean() < np.abs(other - obs[0]).mean() / 3
    flat = gym.make_vec("VLMGym/Swap-v0", num_envs=1).reset(seed=0)[0][0]
    data, _ = encode_step_image(flat)
    assert np.array_equal(np.asarray(Image.open(__import__("io").BytesIO(data)).convert("RGB")), flat)
