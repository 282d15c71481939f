"""The G1 recipe on the tiny Qwen2.5-VL: the cold-start data in SFTTrainer, a few SFT steps, G0 from
the SFT checkpoint, resuming the pipeline, and the command line."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import numpy as np
import pytest
from rl_helpers import ScriptedRollout

pytest.importorskip("trl")

from transformers import TrainerCallback  # noqa: E402

from vlmgym_rl import G0Config  # noqa: E402
from vlmgym_rl.cli import main, parse_g0_args, parse_g1_args, parse_sft_args  # noqa: E402
from vlmgym_rl.coldstart import build_coldstart_dataset  # noqa: E402
from vlmgym_rl.sft import ColdStartConfig, build_sft_trainer, train_g1  # noqa: E402
from vlmgym_rl.states import build_state_dataset  # noqa: E402

pytestmark = pytest.mark.rl

CPU = dict(use_cpu=True, bf16=False, report_to="none", gradient_checkpointing=False, disable_tqdm=True,
           min_pixels=None, max_pixels=None)  # the tiny processor keeps its own small bounds


@pytest.fixture(scope="module")
def coldstart(tmp_path_factory):
    out = tmp_path_factory.mktemp("coldstart")
    return build_coldstart_dataset(["VLMGym/2048-v0", "VLMGym/Swap-v0"], 6, out, chunk_size=8)


def sft_config(tmp_path, **kw):
    return ColdStartConfig(**{**dict(output_dir=str(tmp_path / "sft"), per_device_train_batch_size=4, max_steps=2,
                                     logging_steps=1, save_strategy="no", learning_rate=1e-3), **CPU, **kw})


def test_defaults_are_the_papers_cold_start(tmp_path):
    cfg = ColdStartConfig(output_dir=str(tmp_path), **CPU)
    assert (cfg.learning_rate, cfg.num_train_epochs, cfg.max_length) == (2e-5, 1.0, None)
    assert cfg.verify_dataset and not cfg.use_lora and cfg.merge_lora
    with pytest.raises(ValueError, match="packing is not supported"):
        ColdStartConfig(output_dir=str(tmp_path), packing=True, **CPU)


def test_the_dataset_loads_into_sft_trainer_with_loss_on_the_response_only(coldstart, tiny_vlm, tmp_path):
    model, processor = tiny_vlm
    trainer = build_sft_trainer(model, sft_config(tmp_path), train_dataset=coldstart.path, processor=processor)
    rows = [dict(coldstart.dataset[i]) for i in range(3)]
    batch = trainer.data_collator([{k: r[k] for k in ("prompt", "completion", "images")} for r in rows])
    tok = processor.tokenizer
    assert batch["pixel_values"].shape[0] > 0 and batch["image_grid_thw"].shape[0] == 3  # one picture per example
    for i, row in enumerate(rows):
        labels = batch["labels"][i]
        target = tok.decode(labels[labels != -100])
        response = row["completion"][0]["content"][0]["text"]
        assert target.startswith(response) and target[len(response):].strip() == "<|im_end|>"
        ids = batch["input_ids"][i][batch["attention_mask"][i].bool()]
        n_image = int((ids == tok.convert_tokens_to_ids("<|image_pad|>")).sum())
        t, h, w = batch["image_grid_thw"][i].tolist()
        assert n_image == t * h * w // 4  # no image token was cut (max_length=None)


def test_bad_cold_start_data_is_refused_before_training(coldstart, tiny_vlm, tmp_path):
    model, processor = tiny_vlm
    ds = coldstart.dataset
    cfg = sft_config(tmp_path)

    def edit(fn):
        return ds.map(lambda r: {"completion": [{"role": "assistant", "content": [{"type": "text",
                                                  "text": fn(r["completion"][0]["content"][0]["text"])}]}]})

    wrong = edit(lambda t: re.sub(r"<answer>.*</answer>", "<answer>(9, 9) (9, 8)</answer>", t, flags=re.S))
    with pytest.raises(ValueError, match="are not rewarded by"):
        build_sft_trainer(model, cfg, train_dataset=wrong, processor=processor)
    blurred = edit(lambda t: t.replace("<perception>\n", "<perception>\nx", 1))
    with pytest.raises(ValueError, match=r"row 0: the completion's <perception> block is not the exact board text"):
        build_sft_trainer(model, cfg, train_dataset=blurred, processor=processor)
    with pytest.raises(ValueError, match=r"lacks columns \['images'\]"):
        build_sft_trainer(model, cfg, train_dataset=ds.remove_columns("images"), processor=processor)
    two = ds.map(lambda r: {"images": r["images"] * 2})
    with pytest.raises(ValueError, match="row 0: the prompt has 1 image slots but the row has 2 images"):
        build_sft_trainer(model, cfg, train_dataset=two, processor=processor)
    with pytest.raises(ValueError, match="has no image processor"):
        build_sft_trainer(model, cfg, train_dataset=ds, processor=processor.tokenizer)
    # verification can be switched off (e.g. for someone else's data without states)
    build_sft_trainer(model, sft_config(tmp_path, verify_dataset=False), train_dataset=wrong, processor=processor)


class FirstWeights(TrainerCallback):
    """Records the parameters at the start of training (what the run starts from)."""

    start: dict = {}

    def on_train_begin(self, args, state, control, model=None, **kwargs):
        self.start = {k: v.detach().clone() for k, v in model.named_parameters()}


def test_g1_pipeline_sft_then_g0_from_the_checkpoint_and_resume(tiny_vlm_dir, tmp_path):
    from transformers import Qwen2_5_VLForConditionalGeneration

    from tiny_vlm import load_tiny_vlm

    model, processor = load_tiny_vlm(tiny_vlm_dir)
    root = tmp_path / "g1"
    g0 = G0Config(output_dir=str(root / "rl"), max_steps=1, per_device_train_batch_size=4, num_generations=4,
                  states_per_step=1, max_completion_length=16, stream_states=False, num_states=2,
                  env_eval_every=0, env_eval_at_end=False, rollout_log=True, learning_rate=1e-3,
                  logging_steps=1, save_strategy="no", **CPU)
    rows = build_state_dataset(g0.game_specs(), 2, seed=g0.seed)  # what the G0 stage will sample
    rollout = ScriptedRollout(processor, rows, g0.num_generations)
    first = FirstWeights()
    result = train_g1(model, root, g0_config=g0, sft_config=sft_config(tmp_path), num_states=4, processor=processor,
                      coldstart_chunk_size=8, rollout_func=rollout, callbacks=[first])
    # the cold-start data was built in the pipeline's folder, and SFT trained on it
    assert result.coldstart == root / "coldstart" and result.coldstart_stats["games"]["2048-v0"]["examples"] == 4
    assert result.sft_trainer.state.global_step == 2
    record = json.loads((root / "sft" / "vlmgym_sft.json").read_text())
    assert record["examples"] == 4 and record["global_step"] == 2 and record["learning_rate"] == 1e-3
    assert (root / "sft" / "processor_config.json").is_file()
    # SFT moved the weights; G0 started from exactly the SFT checkpoint (and trained on)
    assert result.g0_trainer.model.config.name_or_path == str(root / "sft")
    base = dict(load_tiny_vlm(tiny_vlm_dir)[0].named_parameters())
    sft = dict(Qwen2_5_VLForConditionalGeneration.from_pretrained(str(root / "sft")).named_parameters())
    assert sft.keys() == first.start.keys() == base.keys()
    for name, start in first.start.items():
        assert np.array_equal(start.numpy(), sft[name].detach().numpy()), name
    changed = [k for k in sft if not np.array_equal(sft[k].detach().numpy(), base[k].detach().numpy())]
    assert len(changed) > len(sft) // 2 and any("visual" in k for k in changed)
    assert result.g0_trainer.state.global_step == 1 and rollout.calls == 1
    assert (root / "rl" / "rollouts" / "rollouts.jsonl").is_file()
    # run again: the finished SFT stage is skipped, G0 runs from the same checkpoint
    model2, processor2 = load_tiny_vlm(tiny_vlm_dir)
    rollout2 = ScriptedRollout(processor2, rows, g0.num_generations)
    again = train_g1(model2, root, g0_config=g0, sft_config=sft_config(tmp_path), num_states=4,
                     processor=processor2, rollout_func=rollout2)
    assert again.sft_trainer is None and again.coldstart is None and again.g0_trainer.state.global_step == 1


def test_cli_parses_sft_and_g1_arguments():
    cfg, script = parse_sft_args(["--model", "M", "--dataset", "data/cs", "--output-dir", "runs/sft", "--use_lora",
                                  "--use_cpu", "--bf16", "false"])
    assert (cfg.learning_rate, cfg.num_train_epochs, cfg.max_length) == (2e-5, 1.0, None) and cfg.use_lora
    assert script.model == "M" and script.dataset == "data/cs"
    g0, sft, g1 = parse_g1_args(["--model", "M", "--output-dir", "runs/g1", "--env", "VLMGym/Swap-v0", "--use_lora",
                                 "--coldstart_states", "500", "--sft_learning_rate", "1e-5",
                                 "--sft_args", '{"warmup_steps": 7}', "--use_cpu", "--bf16", "false",
                                 "--report_to", "none"])
    assert g0.output_dir == "runs/g1" and g0.env_ids == ["VLMGym/Swap-v0"] and g0.learning_rate == 1e-6
    assert sft.output_dir == "runs/g1/sft" and sft.learning_rate == 1e-5 and sft.warmup_steps == 7
    assert sft.use_lora and sft.use_cpu and not sft.bf16 and sft.num_train_epochs == 1.0
    assert g1.coldstart_states == 500 and g1.coldstart_teacher == "oracle"
    # a repeated --env adds games (HfArgumentParser alone would keep only the last one)
    g0, _ = parse_g0_args(["--env", "VLMGym/2048-v0", "--model", "M", "--env", "VLMGym/Swap-v0", "VLMGym/Shisensho-v0",
                           "--env_eval_every", "3", "--use_cpu", "--bf16", "false"])
    assert g0.env_ids == ["VLMGym/2048-v0", "VLMGym/Swap-v0", "VLMGym/Shisensho-v0"] and g0.env_eval_every == 3
    with pytest.raises(ValueError, match="--sft_args must be a JSON object"):
        parse_g1_args(["--model", "M", "--output-dir", "x", "--sft_args", "[1]", "--use_cpu", "--bf16", "false"])


def test_cli_coldstart_and_errors(tmp_path, capsys):
    out = tmp_path / "cs"
    assert main(["coldstart", "--env", "VLMGym/Swap-v0", "-n", "5", "--out", str(out), "--chunk-size", "8",
                 "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert re.search(r"^Swap-v0\s+5/5\s+8\s+8\s+8\s+100.0%\s+100.0%", printed, re.M)
    assert "saved 5 examples to" in printed and (out / "dataset").is_dir()
    assert main(["coldstart", "--env", "VLMGym/Nope-v0", "-n", "5", "--out", str(tmp_path / "x")]) == 2
    assert "unknown env id" in capsys.readouterr().err
    assert main(["coldstart", "--env", "VLMGym/Swap-v0", "-n", "5", "--out", str(out), "--seed", "3"]) == 2
    assert "holds a cold-start build with other settings" in capsys.readouterr().err
    assert main(["sft", "--model", "M", "--dataset", str(tmp_path / "none"), "--output-dir", str(tmp_path / "o"),
                 "--use_cpu", "--bf16", "false"]) == 2
    assert "no cold-start dataset" in capsys.readouterr().err


EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "rl"


def _array(text, name, values):
    body = text[text.index(f"{name}=(") + len(f"{name}=("):]
    body = body[: body.index("\n)\n")]
    body = re.sub(r"\$\{(\w+):-([^}]*)\}", lambda m: values.get(m.group(1), m.group(2)), body)
    body = re.sub(r"\$(\w+)", lambda m: values[m.group(1)], body)
    return shlex.split(body, comments=True)


@pytest.mark.parametrize("script", sorted(EXAMPLES.glob("g1_*.sh")), ids=lambda p: p.name)
def test_g1_launchers_pass_valid_arguments(script, tmp_path):
    """The GPU launchers cannot run here; their arguments must parse and their batches divide."""
    text = script.read_text()
    values = {"MODEL": "Qwen/Qwen2.5-VL-7B-Instruct", "OUT": str(tmp_path)}
    games = ["--env", "VLMGym/2048-v0", "VLMGym/Shisensho-v0", "VLMGym/Swap-v0"]
    g0_args = [a for x in _array(text, "G0_ARGS", values) for a in (games if x == "${GAMES[@]}" else [x])]
    cpu = ["--use_cpu", "--bf16", "false"]
    g0, _ = parse_g0_args([*g0_args, *cpu])  # the RL stage's flags are plain G0 flags
    assert set(g0.env_ids) == {"VLMGym/2048-v0", "VLMGym/Shisensho-v0", "VLMGym/Swap-v0"}
    processes = int(re.search(r"^NUM_PROCESSES=(\d+)$", text, re.M).group(1))
    assert (g0.states_per_step * g0.num_generations) % (g0.per_device_train_batch_size * processes) == 0
    if "G1_ARGS=(" in text:  # one `vlmgym-rl g1` launch
        _, sft, g1 = parse_g1_args([*g0_args, *_array(text, "G1_ARGS", values), *cpu])
        assert g1.model == values["MODEL"] and sft.output_dir == f"{tmp_path}/sft" and "vlmgym_rl.cli g1" in text
        assert sft.use_lora == g0.use_lora and sft.model_init_kwargs == g0.model_init_kwargs
    else:  # the stages as separate launches: coldstart, sft, g0 from the SFT folder
        sft, script_args = parse_sft_args([*_array(text, "SFT_ARGS", values), *cpu])
        assert script_args.dataset == f"{tmp_path}/coldstart" and sft.output_dir == f"{tmp_path}/sft"
        assert g0.output_dir == f"{tmp_path}/rl" and "--model" in g0_args
        assert g0_args[g0_args.index("--model") + 1] == f"{tmp_path}/sft"
        assert (sft.learning_rate, sft.num_train_epochs) == (2e-5, 1.0)
        assert "vlmgym-rl coldstart" in text and "-m vlmgym_rl.cli sft" in text
    for config in re.findall(r"accelerate/(\w+)\.yaml", text.replace("zero$ZERO", "zero3")):
        assert (EXAMPLES / "accelerate" / f"{config}.yaml").is_file()
