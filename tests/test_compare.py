"""`vlmgym compare`: the leaderboard's numbers are the folders' summaries; rows, labels, reference
rows and every warning; the chart and its fallback; clear errors."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest

from vlmgym.cli import main
from vlmgym.eval import EvalConfig, evaluate
from vlmgym.eval.compare import build_leaderboard, load_reference, markdown, write_leaderboard

QUIET = dict(video=False, curves=False, html=False, progress=False)
IDS = ["VLMGym/Shisensho-v0", "VLMGym/2048-v0"]


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("compare")
    out = {}
    for name, policy, ids in (("rnd", "random-paper", IDS), ("orc", "oracle", IDS),
                              ("orc-swap", "oracle", ["VLMGym/Swap-v0"])):
        res = evaluate(EvalConfig(ids, policy=policy, runs=3, steps=4, out=str(root / name), **QUIET))
        out[name] = res.out
    return out


def _mean(folder: Path, env_id: str) -> float:
    return json.loads((folder / "summary.json").read_text())["games"][env_id]["stats"]["metric"]["mean"]


def test_table_chart_page_and_json_hold_the_folders_numbers(folders, tmp_path):
    board = build_leaderboard([folders["rnd"], folders["orc"], folders["orc-swap"]])
    assert board.columns == [*IDS, "VLMGym/Swap-v0"]
    assert board.metrics == {"VLMGym/Shisensho-v0": "successes", "VLMGym/2048-v0": "score_gain",
                             "VLMGym/Swap-v0": "successes"}
    assert [r["label"] for r in board.rows] == ["random-paper", "oracle"]  # one oracle row, two folders
    rows = {r["label"]: r for r in board.rows}
    for env_id in IDS:
        assert rows["random-paper"]["cells"][env_id]["mean"] == _mean(folders["rnd"], env_id)
        assert rows["oracle"]["cells"][env_id]["mean"] == _mean(folders["orc"], env_id)
    assert rows["oracle"]["cells"]["VLMGym/Swap-v0"]["mean"] == _mean(folders["orc-swap"], "VLMGym/Swap-v0")
    assert "VLMGym/Swap-v0" not in rows["random-paper"]["cells"]
    assert board.warnings == []
    written = write_leaderboard(board, tmp_path / "lb")
    assert written["skipped"] == {}
    md = (tmp_path / "lb" / "leaderboard.md").read_text()
    assert md == markdown(board)
    assert "| oracle | 4.0 ± 0.0 |" in md and "| random-paper |" in md and md.count("\n| ") == 3
    png = (tmp_path / "lb" / "leaderboard.png").read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 10_000
    html = (tmp_path / "lb" / "leaderboard.html").read_text()
    assert "random-paper" in html and "oracle" in html and "leaderboard.png" in html
    assert json.loads((tmp_path / "lb" / "leaderboard.json").read_text())["rows"] == board.rows


def test_links_to_each_folders_report(tmp_path):
    res = evaluate(EvalConfig(["VLMGym/2048-v0"], runs=1, steps=2, out=str(tmp_path / "runs" / "a"),
                              video=False, curves=False, progress=False))
    write_leaderboard(build_leaderboard([res.out]), tmp_path / "lb")
    html = (tmp_path / "lb" / "leaderboard.html").read_text()
    assert "href='../runs/a/report.html'" in html
    assert ((tmp_path / "lb") / "../runs/a/report.html").resolve().exists()


def test_warnings_name_what_differs(folders, tmp_path):
    other = tmp_path / "other"
    shutil.copytree(folders["orc"], other)
    cfg = json.loads((other / "config.json").read_text())
    cfg["versions"]["numpy"] = "0.0.1"
    cfg["protocol"]["name"] = "paper"
    cfg["games"]["VLMGym/2048-v0"]["env_kwargs"]["size"] = 5
    cfg["games"]["VLMGym/2048-v0"]["warmup_steps"] = 100
    (other / "config.json").write_text(json.dumps(cfg))
    short = evaluate(EvalConfig(["VLMGym/2048-v0"], policy="oracle", runs=2, steps=4, out=str(tmp_path / "short"),
                                **QUIET)).out
    board = build_leaderboard([folders["rnd"], other, short], labels=["a", "b", "c"])
    text = "\n".join(board.warnings)
    assert "runs differ in protocol" in text and "paper" in text and "custom" in text
    assert "runs differ in package versions: numpy" in text and "0.0.1" in text
    assert "python" not in text.split("package versions:")[1].split("\n")[0]  # only what differs
    assert "env kwargs of VLMGym/2048-v0: size" in text
    assert "warm-up steps of VLMGym/2048-v0" in text
    assert "runs differ in runs x steps" in text and "2 x 4" in text
    assert "env kwargs of VLMGym/Shisensho-v0" not in text  # the same in every folder having it
    md = markdown(board)
    assert "## Warnings" in md and all(w in md for w in board.warnings)


def test_same_label_on_the_same_game_is_told_apart(folders):
    board = build_leaderboard([folders["orc"], folders["orc"]])
    labels = [r["label"] for r in board.rows]
    assert labels == ["oracle", f"oracle ({folders['orc'].name})"]
    assert any("already has" in w for w in board.warnings)
    with pytest.raises(ValueError, match="once per folder|one per folder"):
        build_leaderboard([folders["orc"], folders["rnd"]], labels=["only one"])


def test_incomplete_folders_are_flagged(folders, tmp_path):
    part = tmp_path / "part"
    shutil.copytree(folders["rnd"], part)
    lines = (part / "steps.jsonl").read_text().splitlines(keepends=True)
    (part / "steps.jsonl").write_text("".join(lines[:-3]))
    board = build_leaderboard([part])
    assert any("incomplete" in w for w in board.warnings)


def test_reference_rows(folders, tmp_path):
    ref = tmp_path / "ref.json"
    ref.write_text(json.dumps({"source": "a table somewhere", "protocol": "paper", "rows": {
        "Model A": {"VLMGym/2048-v0": 812.5, "VLMGym/Shisensho-v0": {"mean": 2.0, "std": 0.5},
                    "VLMGym/NotEvaluated-v0": 1.0},
        "Model B": {"VLMGym/2048-v0": None},
    }}))
    board = build_leaderboard([folders["rnd"]], reference=load_reference(ref))
    refs = [r for r in board.rows if r["kind"] == "reference"]
    assert [r["label"] for r in refs] == ["Model A"]  # Model B has no published value here
    assert refs[0]["cells"] == {"VLMGym/2048-v0": {"mean": 812.5, "std": None, "runs": None},
                                "VLMGym/Shisensho-v0": {"mean": 2.0, "std": 0.5, "runs": None}}
    assert any("reference rows use the paper protocol" in w for w in board.warnings)
    md = markdown(board)
    assert "| Model A *(reference)* | 2.0 ± 0.5 | 812.5 |" in md and "a table somewhere" in md
    write_leaderboard(board, tmp_path / "lb")
    assert "reference" in (tmp_path / "lb" / "leaderboard.html").read_text()


@pytest.mark.parametrize("content,message", [
    ("not json", "not JSON"),
    ('{"no_rows": 1}', '"rows" object'),
    ('{"rows": {"A": 3}}', "must map env ids"),
    ('{"rows": {"A": {"VLMGym/2048-v0": "high"}}}', "expected a number"),
    ('{"rows": {"A": {"VLMGym/2048-v0": {"mean": 1, "std": "x"}}}}', "std must be a number"),
])
def test_bad_reference_files_are_refused(tmp_path, content, message):
    ref = tmp_path / "ref.json"
    ref.write_text(content)
    with pytest.raises(ValueError, match=message):
        load_reference(ref)


def test_without_matplotlib_the_chart_is_skipped_and_said(folders, tmp_path, monkeypatch):
    board = build_leaderboard([folders["rnd"]])
    write_leaderboard(board, tmp_path / "lb")
    assert (tmp_path / "lb" / "leaderboard.png").exists()
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    written = write_leaderboard(board, tmp_path / "lb")
    assert "pip install 'vlmgym[eval]'" in written["skipped"]["chart"]
    assert not (tmp_path / "lb" / "leaderboard.png").exists()  # no chart of an earlier comparison
    html = (tmp_path / "lb" / "leaderboard.html").read_text()
    assert "Chart not written" in html and "leaderboard.png" not in html


def test_cli(folders, tmp_path, capsys):
    out = tmp_path / "lb"
    assert main(["compare", str(folders["rnd"]), str(folders["orc"]), "--label", "R", "--label", "O",
                 "--out", str(out), "--no-chart"]) == 0
    printed = capsys.readouterr()
    assert "| R |" in printed.out and "| O |" in printed.out and "chart skipped: disabled" in printed.err
    assert not (out / "leaderboard.png").exists() and (out / "leaderboard.html").exists()
    assert main(["compare", str(tmp_path / "nothing"), "--out", str(out)]) == 2
    assert "not an evaluation folder" in capsys.readouterr().err
    assert main(["compare", str(folders["rnd"]), "--reference", str(tmp_path / "missing.json"),
                 "--out", str(out)]) == 2
    assert "not found" in capsys.readouterr().err
