"""--resume: a process killed mid-run, or files torn mid-write, continue to the same final results as
an uninterrupted run with the same seed and a deterministic policy (no step repeated or lost)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import vlmgym
from vlmgym.cli import main
from vlmgym.eval.runner import read_jsonl

IDS = sorted(vlmgym.ENV_IDS)
POLICY = textwrap.dedent("""
    import os
    from vlmgym.eval.policies import RandomPolicy

    _random = RandomPolicy(legal_only=True)
    _calls = 0

    def policy(queries):
        global _calls
        _calls += 1
        crash = int(os.environ.get("VLMGYM_TEST_CRASH_AFTER", "0"))
        if crash and _calls > crash:
            os._exit(9)  # like a kill: no cleanup, no flushing beyond what was written
        answers = _random(queries)
        return [a if q.seed % 7 else "no idea" for q, a in zip(queries, answers)]
""")
STEPS = 30


def _args(policy_file: Path, out: Path, targets: list[str], warmup: int) -> list[str]:
    return ["eval", *targets, "--policy", f"{policy_file}:policy", "--runs", "4", "--steps", str(STEPS),
            "--warmup-steps", str(warmup), "--seed", "3", "--out", str(out), "--no-video", "--no-curves",
            "--no-progress"]


def _comparable(out: Path) -> tuple[list[dict], list[str], dict]:
    records = [{k: v for k, v in r.items() if k != "latency_s"} for r in read_jsonl(out / "steps.jsonl")]
    records.sort(key=lambda r: (r["env_id"], r["run"], r["step"]))
    checkpoints = (out / "checkpoints.jsonl").read_text().splitlines()
    summary = json.loads((out / "summary.json").read_text())
    games = {k: {m: v for m, v in g["per_run"].items() if m != "latency_mean_s"}
             for k, g in summary["games"].items()}
    return records, checkpoints, games


@pytest.fixture(scope="module", params=["every-id", "2048-3x3"])
def reference(request, tmp_path_factory, env_kwargs_for):
    if request.param == "every-id":  # every registered id from fresh boards (ids needing data files aside)
        targets, warmup = [i for i in IDS if not env_kwargs_for.get(i)], 0
    else:  # small 2048 boards after a warm-up: games end and are replaced after the crash point
        targets, warmup = ["VLMGym/2048-v0", "size=3"], 10
    root = tmp_path_factory.mktemp("resume")
    policy_file = root / "det_policy.py"
    policy_file.write_text(POLICY)
    out = root / "reference"
    assert main(_args(policy_file, out, targets, warmup)) == 0
    return policy_file, out, (targets, warmup)


def test_reference_run_exercises_the_interesting_paths(reference):
    _, out, (targets, _) = reference
    records = read_jsonl(out / "steps.jsonl")
    ids = [t for t in targets if "=" not in t]
    assert len(records) == 4 * STEPS * len(ids)
    assert {r["status"] for r in records} >= {"ok", "unparsable"}
    if "size=3" in targets:  # boards replaced after the crash point: the restored generator matters
        assert any((r["terminated"] or r["truncated"]) and r["step"] > 12 for r in records)


def test_resume_after_kill_gives_the_same_results(reference, tmp_path):
    policy_file, ref_out, (targets, warmup) = reference
    out = tmp_path / "killed"
    env = {**os.environ, "VLMGYM_TEST_CRASH_AFTER": "12"}
    proc = subprocess.run([sys.executable, "-m", "vlmgym.cli", *_args(policy_file, out, targets, warmup)],
                          env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 9, proc.stderr
    assert {r["step"] for r in read_jsonl(out / "steps.jsonl")} == set(range(1, 13))
    assert not (out / "summary.json").exists()
    assert main(["eval", "--resume", "--out", str(out), "--no-video", "--no-curves", "--no-progress"]) == 0
    assert _comparable(out) == _comparable(ref_out)


def test_resume_after_torn_writes_gives_the_same_results(reference, tmp_path):
    _, ref_out, _ = reference
    out = tmp_path / "torn"
    shutil.copytree(ref_out, out)
    for name in ("summary.json", "summary.md"):
        (out / name).unlink()
    # killed while writing step 18: its checkpoint line is half written, and so is a steps line
    cps = (out / "checkpoints.jsonl").read_text().splitlines(keepends=True)
    (out / "checkpoints.jsonl").write_text("".join(cps[:18]) + cps[18][: len(cps[18]) // 2])
    lines = (out / "steps.jsonl").read_text().splitlines(keepends=True)
    keep = [ln for ln in lines if json.loads(ln)["step"] <= 18]
    (out / "steps.jsonl").write_text("".join(keep[:-1]) + keep[-1][:20])
    assert main(["eval", "--resume", "--out", str(out), "--no-video", "--no-curves", "--no-progress"]) == 0
    assert _comparable(out) == _comparable(ref_out)


def test_resume_refuses_a_different_evaluation(reference, tmp_path, capsys):
    _, ref_out, _ = reference
    out = tmp_path / "other"
    shutil.copytree(ref_out, out)
    assert main(["eval", "--resume", "--out", str(out), "--steps", "31", "--no-video"]) == 2
    assert "steps: saved 30, now 31" in capsys.readouterr().err
    assert main(["eval", "--resume", "--out", str(tmp_path / "missing")]) == 2
    assert "nothing to resume" in capsys.readouterr().err


def test_resume_refuses_a_checkpoint_without_the_envs_generators(reference, tmp_path, capsys):
    # checkpoints of older versions saved only the vector env's own generator: continuing them would
    # deal other games after a restart, so the harness says so instead of resuming inexactly
    _, ref_out, _ = reference
    out = tmp_path / "old"
    shutil.copytree(ref_out, out)
    (out / "summary.json").unlink()
    lines = []
    for line in (out / "checkpoints.jsonl").read_text().splitlines():
        cp = json.loads(line)
        for g in cp["games"].values():
            g["np_random"] = g.pop("rng")["np_random"]
        lines.append(json.dumps(cp))
    (out / "checkpoints.jsonl").write_text("\n".join(lines[:10]) + "\n")
    assert main(["eval", "--resume", "--out", str(out), "--no-video", "--no-curves", "--no-progress"]) == 2
    assert "older vlmgym" in capsys.readouterr().err
