"""``vlmgym-rl report``: the paper's analysis from the rollout log of a short real run."""

from __future__ import annotations

import csv
import json

import pytest
from PIL import Image
from rl_helpers import ScriptedRollout

pytest.importorskip("trl")
pytest.importorskip("matplotlib")

from vlmgym_rl import G0Config, build_g0_trainer  # noqa: E402
from vlmgym_rl.cli import main  # noqa: E402
from vlmgym_rl.report import METRICS, load_rollouts, write_report  # noqa: E402
from vlmgym_rl.states import build_state_dataset  # noqa: E402

pytestmark = pytest.mark.rl


class LocalizingRollout(ScriptedRollout):
    """The scripted answers, with "no idea" replaced by an answer whose perception tags every cell
    with its coordinates (the paper's localization pattern) and gets one cell wrong."""

    def answers_for(self, key):
        answers = list(super().answers_for(key))
        formatted = answers[3]
        board = formatted.split("<perception>\n", 1)[1].split("\n</perception>", 1)[0]
        cells = [[c.strip() for c in row.split("|")] for row in board.split("\n")]
        cells[0][0] = "999"
        tagged = "\n".join(f"({r},{c}): {v}" for r, row in enumerate(cells) for c, v in enumerate(row))
        answers[2] = formatted.replace(board, tagged)
        return answers


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, tiny_vlm_dir):
    from tiny_vlm import load_tiny_vlm

    model, processor = load_tiny_vlm(tiny_vlm_dir)
    out = tmp_path_factory.mktemp("run")
    cfg = G0Config(output_dir=str(out), use_cpu=True, bf16=False, report_to="none", max_steps=3,
                   per_device_train_batch_size=8, num_generations=4, states_per_step=2, max_completion_length=32,
                   learning_rate=1e-3, logging_steps=1, save_strategy="no", env_eval_every=0, env_eval_at_end=False,
                   rollout_log=True, seed=0, gradient_checkpointing=False, disable_tqdm=True,
                   stream_states=False, num_states=6, min_pixels=None, max_pixels=None)
    ds = build_state_dataset(cfg.game_specs(), 6, seed=0)
    trainer = build_g0_trainer(model, cfg, processor=processor, train_dataset=ds,
                               rollout_func=LocalizingRollout(processor, ds, cfg.num_generations))
    trainer.train()
    return out, trainer.state.log_history


def test_report_matches_what_the_trainer_logged(run_dir):
    out, history = run_dir
    result = write_report(out)
    logs = {h["step"]: h for h in history if "rewards/game_reward/mean" in h}
    assert sorted(result.metrics) == ["2048-v0"] and sorted(result.metrics["2048-v0"]) == [1, 2, 3]
    with open(result.csv, newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [int(r["step"]) for r in rows] == [1, 2, 3] and all(r["n"] == "8" for r in rows)
    for r in rows:
        h = logs[int(r["step"])]
        assert float(r["game_reward"]) == pytest.approx(h["rewards/game_reward/mean"])
        assert float(r["format_reward"]) == pytest.approx(h["vlmgym/format_rate"])
        assert float(r["success_rate"]) == pytest.approx(h["vlmgym/2048-v0/success_rate"])
        assert float(r["P_acc"]) == pytest.approx(h["vlmgym/P_acc"]) == 0.25
        assert float(r["cell_acc"]) == pytest.approx(h["vlmgym/perception_cell_acc"])
        assert float(r["localization"]) == pytest.approx(h["vlmgym/localization_rate"]) == 0.25
        assert float(r["R_acc"]) == pytest.approx(h["vlmgym/R_acc"])
    # the tagged perception reads 15 of 16 cells right; the exact one 16; the others none
    assert float(rows[0]["cell_acc"]) == pytest.approx((1 + 15 / 16) / 4)
    for name in ("rewards.png", "perception.png", "reasoning.png", "localization.png"):
        with Image.open(result.out / name) as im:
            assert im.format == "PNG" and im.size[0] > 300
    md = result.markdown.read_text()
    assert "| whole run | 24 |" in md and "![perception](perception.png)" in md
    for m in METRICS:
        assert m in md
    assert result.summary["2048-v0"]["all"]["n"] == 24


def test_report_cli_and_old_logs(run_dir, tmp_path, capsys):
    out, _ = run_dir
    assert main(["report", str(out), "--out", str(tmp_path / "r"), "--smooth", "2"]) == 0
    printed = capsys.readouterr().out
    assert "P_acc 0.250" in printed and "localization 0.250" in printed and (tmp_path / "r" / "report.md").is_file()
    # logs written before the cell accuracy and localization fields: localization from the text,
    # the cell accuracy left empty
    old = tmp_path / "old" / "rollouts"
    old.mkdir(parents=True)
    lines = [json.loads(x) for x in (out / "rollouts" / "rollouts.jsonl").read_text().splitlines()]
    with open(old / "rollouts.jsonl", "w") as fh:
        for rec in lines:
            rec.pop("perception_cell_acc")
            rec.pop("localization")
            fh.write(json.dumps(rec) + "\n")
        fh.write('{"step": 4, "mode": "tr')  # a line cut by an interruption is skipped
    assert len(load_rollouts(tmp_path / "old")) == len(lines)
    result = write_report(tmp_path / "old", plots=False)
    step1 = result.metrics["2048-v0"][1]
    assert step1["localization"] == 0.25 and step1["cell_acc"] is None and not result.plots
    assert main(["report", str(tmp_path / "missing")]) == 2
    assert "no run at" in capsys.readouterr().err
    assert main(["report", str(tmp_path / "old"), "--mode", "eval", "--no-plots"]) == 2
    assert "has no 'eval' records" in capsys.readouterr().err
