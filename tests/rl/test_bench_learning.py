"""benchmarks/bench_learning.py end to end at the smallest size (plumbing, not learning: the
learning measurements are in docs/performance.md, "Learning")."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

pytest.importorskip("trl")
pytest.importorskip("matplotlib")

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

import bench_learning  # noqa: E402

pytestmark = [pytest.mark.rl, pytest.mark.slow]


def test_bench_learning_runs_g0_and_g1_and_writes_curves_and_baselines(tmp_path, capsys):
    rc = bench_learning.main([
        "--out", str(tmp_path), "--env", "VLMGym/Sokoban-v0", "--env-kwargs", "{}", "--heldout", "4",
        "--coldstart", "8", "--sft-epochs", "1", "--grpo-steps", "1", "--states-per-step", "2",
        "--generations", "2", "--eval-every", "1", "--hidden", "16", "--layers", "1", "--max-completion", "8",
        "--split-cells", "--vocab", "2000", "--threads", "1"])
    assert rc == 0
    out = capsys.readouterr().out
    assert "constant" in out and "G1 - SFT" in out
    data = json.loads((tmp_path / "learning.json").read_text())
    (r,) = data["results"]
    assert set(r["baselines"]) == {"random", "random_legal", "best", "constant"}
    assert r["baselines"]["random_legal"] == 1.0  # a Sokoban move succeeds when it is allowed
    assert r["baselines"]["random"] <= r["baselines"]["constant"] <= r["baselines"]["best"]
    stages = {(c["stage"], c["step"]) for c in r["curve"]}
    assert {("G0", 0), ("G0", 1), ("SFT", 0), ("G1", 0), ("G1", 1)} <= stages
    assert r["G1"]["gain"] == pytest.approx(r["G1"]["after"]["success"] - r["SFT"]["success"])
    assert 0.0 <= r["G1"]["p_value"] <= 1.0 and set(r["seconds"]) == {"G0", "SFT", "G1"}
    assert (tmp_path / "learning.png").stat().st_size > 10_000
    assert data["args"]["vocab"] == 2000
