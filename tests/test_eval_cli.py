"""`vlmgym eval` end to end: the paper protocol with the random policy on every registered id (sane,
documented numbers), the output files, optional-dependency fallbacks, custom policies, errors."""

from __future__ import annotations

import json
import re
import sys
import textwrap
from pathlib import Path

import gymnasium as gym
import pytest

import vlmgym
from vlmgym.cli import main
from vlmgym.eval import EvalConfig, FunctionPolicy, Reply, evaluate
from vlmgym.eval.runner import STEP_FIELDS, read_jsonl

IDS = sorted(vlmgym.ENV_IDS)
DOCS = Path(__file__).resolve().parents[1] / "docs" / "evaluation.md"
QUIET = ["--no-video", "--no-curves", "--no-html", "--no-progress"]


def _kwargs(env_id, env_kwargs_for):
    return [f"{k}={json.dumps(v)}" for k, v in env_kwargs_for.get(env_id, {}).items()]


def _documented_random_means() -> dict[tuple[str, str], float]:
    """``(id, policy) -> mean`` from the random-baseline table in docs/evaluation.md: one row per
    id with ``random`` and ``random-paper`` columns (``mean ± std (min..max)`` each)."""
    if not DOCS.exists():
        return {}
    out = {}
    cell = r"([0-9.]+) ± [0-9.]+ \([0-9.]+\.\.[0-9.]+\)"
    for m in re.finditer(rf"^\| `(VLMGym/[^`]+)` \| [a-z_]+ \| {cell} \| {cell} \|", DOCS.read_text(), re.M):
        out[(m.group(1), "random")] = float(m.group(2))
        out[(m.group(1), "random-paper")] = float(m.group(3))
    return out


def _baseline_command(env_id: str, policy: str) -> list[str]:
    """How each column of the table is measured: ``random-paper`` is what ``--protocol paper``
    plays for ``--policy random``; the clean ``random`` runs under the same runs, steps and warm-up."""
    if policy == "random-paper":
        return ["--policy", "random", "--protocol", "paper"]
    warmup = vlmgym.game_class(gym.spec(env_id).kwargs["game"]).paper_warmup_steps
    return ["--policy", "random", "--protocol", "custom", "--runs", "10", "--steps", "100",
            "--warmup-steps", str(warmup)]


@pytest.mark.parametrize("policy", ["random", "random-paper"])
@pytest.mark.parametrize("env_id", IDS)
def test_random_baselines_are_sane_and_documented(env_id, policy, env_kwargs_for, tmp_path):
    out = tmp_path / "ev"
    assert main(["eval", env_id, *_kwargs(env_id, env_kwargs_for), *_baseline_command(env_id, policy),
                 "--out", str(out), *QUIET]) == 0
    summary = json.loads((out / "summary.json").read_text())
    g = summary["games"][env_id]
    assert summary["policy_spec"] == policy
    assert summary["complete"] and summary["runs"] == 10 and summary["steps"] == 100
    assert g["steps_recorded"] == [100] * 10
    per_run = g["per_run"]
    assert per_run["unparsable"] == [0.0] * 10  # random answers are always well formed
    assert per_run["request_failed"] == [0.0] * 10
    assert per_run["format_rate"] == [0.0] * 10 and per_run["perception_exact_rate"] == [0.0] * 10
    mean = g["stats"]["metric"]["mean"]
    if g["game"] == "2048":
        assert g["metric"] == "score_gain" and g["warmup_steps"] == 100
        assert 300 <= mean <= 1500, mean
        assert 0.3 <= g["stats"]["success_rate"]["mean"] <= 0.8
    elif g["game"] == "sokoban":  # fresh rooms; random moves solve a small room now and then (+11)
        assert g["metric"] == "score_gain" and g["warmup_steps"] == 0
        assert 0 <= mean <= 30, mean
    elif g["game"] == "minesweeper":  # fresh boards; the first reveal is safe, a random one often too
        assert g["metric"] == "successes" and g["warmup_steps"] == 0
        assert 5 <= mean <= 40, mean
    else:  # tile games: fresh boards, few successes for uniform random pairs
        assert g["metric"] == "successes" and g["warmup_steps"] == 0
        assert 0 <= mean <= 30, mean
    documented = _documented_random_means()
    if (env_id, policy) in documented:  # the table in docs/evaluation.md was measured with this command
        std = g["stats"]["metric"]["std"]
        assert abs(documented[env_id, policy] - mean) <= 3 * std / 10 ** 0.5 + 1, (
            f"docs/evaluation.md lists {documented[env_id, policy]} for {env_id} ({policy}) but it now gets "
            f"{mean:.1f}: re-measure and update the table")


def test_every_registered_id_has_documented_random_numbers():
    documented = _documented_random_means()
    missing = [(i, p) for i in IDS for p in ("random", "random-paper") if (i, p) not in documented]
    assert not missing, f"add random-baseline numbers for {missing} to docs/evaluation.md"


def test_outputs_steps_summary_markdown_curves_videos(tmp_path):
    out = tmp_path / "ev"
    ids = IDS[:2]
    assert main(["eval", *ids, "--runs", "2", "--steps", "5", "--seed", "1", "--out", str(out),
                 "--no-progress"]) == 0
    records = read_jsonl(out / "steps.jsonl")
    assert len(records) == 2 * 5 * len(ids)
    assert all(tuple(r) == STEP_FIELDS for r in records)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["versions"]["vlmgym"] == vlmgym.__version__ and "numpy" in summary["versions"]
    assert summary["skipped"] == {}
    for env_id in ids:
        g = summary["games"][env_id]
        assert g["env_kwargs"] == {**vlmgym.ENV_IDS[env_id][0], **(
            {"max_episode_steps": vlmgym.ENV_IDS[env_id][1]} if vlmgym.ENV_IDS[env_id][1] else {})}
        assert set(g["stats"]["metric"]) == {"mean", "std", "min", "max"}
    md = (out / "summary.md").read_text()
    assert "| game | metric | mean | std | min | max |" in md and "## Versions" in md
    assert (out / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    videos = sorted((out / "videos").iterdir())
    assert len(videos) == 2 * len(ids)
    for v in videos:
        assert v.suffix == ".mp4" and v.read_bytes()[4:8] == b"ftyp"
    config = json.loads((out / "config.json").read_text())
    assert config["identity"]["env_ids"] == ids and config["identity"]["seed"] == 1


def test_gif_and_plain_progress_without_optional_packages(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "imageio_ffmpeg", None)  # import -> ImportError
    monkeypatch.setitem(sys.modules, "tqdm", None)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    out = tmp_path / "ev"
    assert main(["eval", "VLMGym/2048-v0", "--runs", "2", "--steps", "10", "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert "vlmgym eval: step 10/10" in err and "reward=" in err
    videos = sorted((out / "videos").iterdir())
    assert [v.suffix for v in videos] == [".gif", ".gif"]
    from PIL import Image

    with Image.open(videos[0]) as gif:
        assert gif.n_frames == 11  # the start board and one frame per step
    summary = json.loads((out / "summary.json").read_text())
    assert "matplotlib" in summary["skipped"]["curves"] and not (out / "curves.png").exists()


def test_custom_policies_from_a_file(tmp_path):
    policy_file = tmp_path / "mine.py"
    policy_file.write_text(textwrap.dedent("""
        from vlmgym.eval import Policy, Reply

        def always_left(queries):
            return ["<think>left is safe</think><answer>left</answer>" for _ in queries]

        class Fixed(Policy):
            def __init__(self, move=0, fail_run=None):
                self.move, self.fail_run = move, fail_run

            def __call__(self, queries):
                return [Reply(text=None, error="boom") if q.run == self.fail_run
                        else Reply(text=f"<answer>{self.move}</answer>", latency_s=0.5) for q in queries]

            def config(self):
                return {"name": "fixed", "move": self.move}

        def wrong_count(queries):
            return ["<answer>0</answer>"]
    """))
    out = tmp_path / "fn"
    assert main(["eval", "VLMGym/2048-v0", "--policy", f"{policy_file}:always_left", "--runs", "2",
                 "--steps", "3", "--out", str(out), *QUIET]) == 0
    recs = read_jsonl(out / "steps.jsonl")
    assert {r["action"] for r in recs} == {3} and {r["format_ok"] for r in recs} == {False}
    out = tmp_path / "cls"
    assert main(["eval", "VLMGym/2048-v0", "--policy", f"{policy_file}:Fixed", "--policy-arg", "move=2",
                 "--policy-arg", "fail_run=1", "--runs", "2", "--steps", "3", "--out", str(out), *QUIET]) == 0
    recs = read_jsonl(out / "steps.jsonl")
    assert {(r["run"], r["status"] == "request_failed") for r in recs} == {(0, False), (1, True)}
    assert {r["latency_s"] for r in recs if r["run"] == 0} == {0.5}
    assert json.loads((out / "summary.json").read_text())["policy"] == {"name": "fixed", "move": 2}
    assert main(["eval", "VLMGym/2048-v0", "--policy", f"{policy_file}:wrong_count", "--runs", "2",
                 "--steps", "1", "--out", str(tmp_path / "bad"), *QUIET]) == 2


def test_python_api_with_a_policy_object(tmp_path):
    seen = []

    def policy(queries):
        seen.extend((q.env_id, q.run, q.step, q.image.shape, q.prompt[:10]) for q in queries)
        return [Reply(text="<answer>1</answer>") for _ in queries]

    result = evaluate(EvalConfig(["VLMGym/2048-v0"], runs=3, steps=2, out=str(tmp_path / "api"),
                                 video=False, curves=False, progress=False), policy=FunctionPolicy(policy, "right"))
    assert result.summary["policy_spec"] == "right" and result.resumed_from == 0
    assert [s[:3] for s in seen] == [("VLMGym/2048-v0", r, s) for s in (1, 2) for r in range(3)]
    assert result.timing["env_steps"] == 6 and result.timing["overhead_per_env_step_ms"] > 0


@pytest.mark.parametrize("args,message", [
    (["VLMGym/2048-v0", "--policy", "nope"], "unknown policy 'nope'"),
    (["VLMGym/2048-v0", "--policy", "no_such_module_xyz:f"], "cannot import module"),
    (["VLMGym/2O48-v0"], "unknown environment id 'VLMGym/2O48-v0'; did you mean VLMGym/2048-v0"),
    (["VLMGym/2048-v0", "--policy", "openai:m", "--api-key-env", "VLMGYM_UNSET_KEY"], "$VLMGYM_UNSET_KEY"),
    (["VLMGym/2048-v0", "--protocol", "paper", "--runs", "3"], "fixes 10 runs x 100 steps"),
    (["VLMGym/2048-v0", "--protocol", "paper", "--warmup-steps", "3"], "fixes the warm-up"),
    (["VLMGym/2048-v0", "--base-url", "http://127.0.0.1:1/v1"], "applies to openai:MODEL policies only"),
    (["VLMGym/2048-v0", "--temperature", "0.5"], "do not apply to 'random'"),
    ([], "give at least one environment id"),
    (["VLMGym/2048-v0", "--runs", "0"], "runs must be a positive integer"),
    (["VLMGym/2048-v0", "size=99"], "size must be an integer from 3 to 8"),
    # non-JSON values arrive as strings: a bool knob refuses them instead of turning on
    (["VLMGym/2048-v0", "show_coords=False"], "show_coords must be True or False, got 'False' (str)"),
    (["VLMGym/2048-v0", "hud=False"], "write hud=true or hud=false"),
    (["VLMGym/2048-v0", "image_size=[20000,20000]"], "image_size must have both sides from 1 to 4096"),
    (["VLMGym/2048-v0", "--resume"], "--resume needs --out"),
    (["VLMGym/2048-v0", "action_mode=index"], "action_mode must be 'text'"),
    (["VLMGym/2048-v0", "autoreset_mode=disabled"], "autoreset_mode must be 'same_step'"),
    (["VLMGym/2048-v0", "autoreset_mode=next_step"], "NEXT_STEP would ignore the answer"),
])
def test_cli_errors_are_clear(args, message, tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("VLMGYM_UNSET_KEY", raising=False)
    assert main(["eval", *args, "--out", str(tmp_path / "x"), *QUIET] if "--resume" not in args
                else ["eval", *args]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "x").exists()  # nothing written for bad input


def test_existing_results_are_never_overwritten(tmp_path, capsys):
    out = tmp_path / "ev"
    assert main(["eval", "VLMGym/2048-v0", "--runs", "1", "--steps", "2", "--out", str(out), *QUIET]) == 0
    before = (out / "steps.jsonl").read_text()
    assert main(["eval", "VLMGym/2048-v0", "--runs", "1", "--steps", "2", "--out", str(out), *QUIET]) == 2
    assert "already holds results" in capsys.readouterr().err
    assert (out / "steps.jsonl").read_text() == before
    # resuming a finished evaluation only rebuilds the reports
    assert main(["eval", "--resume", "--out", str(out), *QUIET]) == 0
    assert (out / "steps.jsonl").read_text() == before


def test_ctrl_c_keeps_the_steps_so_far_and_says_how_to_resume(tmp_path, capsys, monkeypatch):
    policy_file = tmp_path / "interrupt.py"
    policy_file.write_text(textwrap.dedent("""
        import os
        calls = 0

        def policy(queries):
            global calls
            calls += 1
            if calls == 3 and os.environ.get("VLMGYM_TEST_INTERRUPT"):
                raise KeyboardInterrupt
            return ["<answer>0</answer>" for _ in queries]
    """))
    out = tmp_path / "ev"
    monkeypatch.setenv("VLMGYM_TEST_INTERRUPT", "1")
    assert main(["eval", "VLMGym/2048-v0", "--policy", f"{policy_file}:policy", "--runs", "2", "--steps",
                 "5", "--out", str(out), *QUIET]) == 130
    monkeypatch.delenv("VLMGYM_TEST_INTERRUPT")
    assert f"vlmgym eval --resume --out {out}" in capsys.readouterr().err
    assert {r["step"] for r in read_jsonl(out / "steps.jsonl")} == {1, 2}
    assert main(["eval", "--resume", "--out", str(out), *QUIET]) == 0
    assert len(read_jsonl(out / "steps.jsonl")) == 10


def test_module_function_policy_from_the_working_directory(tmp_path):
    import subprocess

    (tmp_path / "my_policies.py").write_text("def up(queries):\n    return ['<answer>up</answer>'] * len(queries)\n")
    exe = Path(sys.executable).with_name("vlmgym")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "vlmgym.cli"]
    proc = subprocess.run([*cmd, "eval", "VLMGym/2048-v0", "--policy", "my_policies:up", "--runs", "1",
                           "--steps", "2", "--out", "ev", *QUIET], cwd=tmp_path, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert {r["action"] for r in read_jsonl(tmp_path / "ev" / "steps.jsonl")} == {0}
