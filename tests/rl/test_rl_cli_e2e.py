"""The training commands end to end on CPU: ``vlmgym-rl g0`` and ``vlmgym-rl g1`` (cold start,
SFT, GRPO) on the tiny Qwen2.5-VL, whose image-only processor ``AutoProcessor`` cannot build, so
the commands get it as ``--processor tiny_vlm:load_tiny_processor`` (a loader called with the
model path), with the pixel bounds given on the command line."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("trl")

from vlmgym_rl.cli import main  # noqa: E402

pytestmark = pytest.mark.rl

CPU = ["--use_cpu", "--bf16", "false", "--report_to", "none", "--disable_tqdm", "true", "--save_strategy", "no",
       "--min_pixels", "784", "--max_pixels", "3136", "--processor", "tiny_vlm:load_tiny_processor"]
SMALL_G0 = ["--env", "VLMGym/2048-v0", "--env_kwargs", '{"size": 3}', "--max_steps", "1", "--states_per_step", "2",
            "--num_generations", "2", "--per_device_train_batch_size", "4", "--max_completion_length", "6",
            "--env_eval_every", "0", "--env_eval_at_end", "false", "--logging_steps", "1"]


def test_g0_command_trains_a_step_with_a_processor_loader(tiny_vlm_dir, tmp_path, capsys):
    out = tmp_path / "g0"
    assert main(["g0", "--model", str(tiny_vlm_dir), "--output-dir", str(out), *SMALL_G0, *CPU]) == 0
    rows = [json.loads(line) for line in (out / "rollouts" / "rollouts.jsonl").read_text().splitlines()]
    assert len(rows) == 4 and {r["env_id"] for r in rows} == {"VLMGym/2048-v0"}
    assert (out / "config.json").is_file() or (out / "model.safetensors").is_file()
    # a module:attr that does not exist is bad input, said in one line
    assert main(["g0", "--model", str(tiny_vlm_dir), "--output-dir", str(out), *SMALL_G0, *CPU[:-1],
                 "tiny_vlm:nope"]) == 2
    assert "tiny_vlm has no attribute 'nope'" in capsys.readouterr().err


def test_g1_command_builds_cold_start_data_fine_tunes_then_runs_grpo(tiny_vlm_dir, tmp_path):
    root = tmp_path / "g1"
    sft = json.dumps({"max_steps": 2, "min_pixels": 784, "max_pixels": 3136, "save_strategy": "no"})
    assert main(["g1", "--model", str(tiny_vlm_dir), "--output-dir", str(root), "--coldstart_states", "4",
                 "--sft_per_device_train_batch_size", "2", "--sft_gradient_accumulation_steps", "1",
                 "--sft_args", sft, *SMALL_G0, *CPU]) == 0
    stats = json.loads((root / "coldstart" / "stats.json").read_text())
    assert stats["examples"] == 4 and [g["env_id"] for g in stats["games"].values()] == ["VLMGym/2048-v0"]
    record = json.loads((root / "sft" / "vlmgym_sft.json").read_text())
    assert record["global_step"] == 2 and record["examples"] == 4
    assert (root / "rl" / "rollouts" / "rollouts.jsonl").is_file()
