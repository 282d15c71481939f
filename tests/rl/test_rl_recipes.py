"""G0Config (the paper's recipe), the command line, and bad input caught before training starts."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("trl")

from datasets import load_from_disk  # noqa: E402

from vlmgym_rl import G0Config, build_g0_trainer, load_processor  # noqa: E402
from vlmgym_rl.cli import main, parse_g0_args  # noqa: E402
from vlmgym_rl.states import build_state_dataset  # noqa: E402

pytestmark = pytest.mark.rl

CPU = dict(use_cpu=True, bf16=False, report_to="none",
           min_pixels=None, max_pixels=None)  # the tiny processor keeps its own small bounds


def test_defaults_are_the_papers_recipe(tmp_path):
    cfg = G0Config(output_dir=str(tmp_path), **CPU)
    assert (cfg.num_generations, cfg.temperature, cfg.learning_rate, cfg.epsilon, cfg.beta) == (5, 1.0, 1e-6, 0.2, 0.01)
    assert cfg.lr_scheduler_type.value == "constant" and cfg.scale_rewards == "group"
    # the original's deviations from TRL's defaults: token-mean loss, plain k3 KL, no vLLM IS correction, wd 1e-2
    assert cfg.loss_type == "bnpo" and cfg.use_bias_correction_kl is False
    assert cfg.vllm_importance_sampling_correction is False and cfg.weight_decay == 0.01
    assert G0Config(output_dir=str(tmp_path), use_cpu=True, report_to="none").min_pixels == 262144
    assert G0Config(output_dir=str(tmp_path), use_cpu=True, report_to="none").max_pixels == 4194304
    assert cfg.strict_answer is True
    assert (cfg.env_eval_runs, cfg.env_eval_episode_steps, cfg.env_eval_max_new_tokens) == (4, 20, 512)
    assert cfg.max_completion_length == 8192 and cfg.max_steps == 500 and cfg.remove_unused_columns is False
    # 128 states x 5 answers = 640 completions = one optimizer step of 8 per device x 80 accumulations
    assert cfg.states_per_step == 128 and cfg.gradient_accumulation_steps == 80
    assert cfg.generation_batch_size == 640 and cfg.states_per_generation == 128
    assert (cfg.format_reward_weight, cfg.perception_reward_weight, cfg.game_reward_mode) == (1.0, 0.0, "binary")
    assert [s.env_id for s in cfg.game_specs()] == ["VLMGym/2048-v0"] and cfg.stream_states


def test_every_field_can_be_overridden(tmp_path):
    cfg = G0Config(output_dir=str(tmp_path), num_generations=4, learning_rate=3e-6, beta=0.0,
                   states_per_step=None, gradient_accumulation_steps=3, env_ids=["VLMGym/2048-v0"],
                   env_kwargs='{"VLMGym/2048-v0": {"size": 5}}', sampler_k=7, obs_mode="image+text", **CPU)
    assert (cfg.num_generations, cfg.learning_rate, cfg.beta, cfg.gradient_accumulation_steps) == (4, 3e-6, 0.0, 3)
    (spec,) = cfg.game_specs()
    assert spec.env_kwargs == {"size": 5} and spec.k == 7 and spec.obs_mode == "image+text"
    assert G0Config(output_dir=str(tmp_path), env_kwargs={"size": 3}, **CPU).game_specs()[0].env_kwargs == {"size": 3}


@pytest.mark.parametrize("kwargs, message", [
    ({"env_ids": ["VLMGym/Nope-v0"]}, "unknown env ids ['VLMGym/Nope-v0']; registered ids"),
    ({"env_weights": [1.0, 2.0]}, "env_weights has 2 values for 1 env ids"),
    ({"env_kwargs": "{not json"}, "env_kwargs must be a JSON object"),
    ({"states_per_step": 3, "per_device_train_batch_size": 4}, "is not a multiple of per_device_train_batch_size"),
    ({"states_per_step": 8, "gradient_accumulation_steps": 2}, "conflicts with states_per_step=8"),
    ({"game_reward_mode": "dense"}, "game_reward_mode must be 'binary' or 'score'"),
    ({"on_policy_fraction": 0.5, "stream_states": False}, "needs stream_states=True"),
    ({"obs_mode": "text"}, "obs_mode for VLMGym/2048-v0 must be one of"),
    ({"remove_unused_columns": True}, "remove_unused_columns must be False"),
])
def test_bad_configuration_fails_at_construction(tmp_path, kwargs, message):
    with pytest.raises(ValueError) as err:
        G0Config(output_dir=str(tmp_path), **{**CPU, **kwargs})
    assert message in str(err.value)


def small(tmp_path, **kw):
    base = dict(output_dir=str(tmp_path / "run"), max_steps=1, per_device_train_batch_size=4, num_generations=2,
                states_per_step=2, max_completion_length=4, env_eval_every=0, env_eval_at_end=False,
                rollout_log=False, **CPU)
    base.update(kw)
    return G0Config(**base)


def test_models_without_an_image_processor_are_refused(tiny_vlm_dir, tiny_vlm, tmp_path):
    model, processor = tiny_vlm
    # AutoProcessor cannot build the test processor class, so it falls back to a plain tokenizer
    with pytest.raises(ValueError, match="has no image processor .*vision-language models"):
        load_processor(str(tiny_vlm_dir))
    with pytest.raises(ValueError, match="has no image processor"):
        build_g0_trainer(model, small(tmp_path), processor=processor.tokenizer)
    with pytest.raises(ValueError, match="cannot load a processor for"):
        load_processor(str(tmp_path / "missing"))
    model.config.name_or_path = ""
    with pytest.raises(ValueError, match="in-memory model has no path"):
        load_processor(model)
    with pytest.raises(ValueError, match="beta > 0 needs the initial policy"):
        build_g0_trainer(model, small(tmp_path), processor=processor)
    with pytest.raises(TypeError, match="model must be a model id/path or a transformers model"):
        build_g0_trainer(object(), small(tmp_path), processor=processor)


def test_unusable_datasets_are_refused_before_training(tiny_vlm, tmp_path):
    model, processor = tiny_vlm
    ds = build_state_dataset("VLMGym/2048-v0", 4)
    cfg = small(tmp_path)
    with pytest.raises(ValueError, match=r"lacks columns \['state'\]"):
        build_g0_trainer(model, cfg, processor=processor, train_dataset=ds.remove_columns("state"))
    broken = ds.map(lambda r: {"state": r["state"][:-1]})
    with pytest.raises(ValueError, match="row 0 of the training dataset cannot be scored"):
        build_g0_trainer(model, cfg, processor=processor, train_dataset=broken)
    unknown = ds.map(lambda r, i: {"env_id": "VLMGym/Nope-v0" if i == 3 else r["env_id"]}, with_indices=True)
    with pytest.raises(ValueError, match="row 3 .* unknown env id 'VLMGym/Nope-v0'"):
        build_g0_trainer(model, cfg, processor=processor, train_dataset=unknown)
    with pytest.raises(TypeError, match="must be a datasets.Dataset or IterableDataset"):
        build_g0_trainer(model, cfg, processor=processor, train_dataset=[dict(r) for r in ds])
    with pytest.raises(ValueError, match="reward_weights needs 3 values"):
        build_g0_trainer(model, small(tmp_path, reward_weights=[1.0]), processor=processor, train_dataset=ds)
    with pytest.raises(ValueError, match=r"cannot build VLMGym/2048-v0 with env_kwargs \{'size': 99\}"):
        build_g0_trainer(model, small(tmp_path, env_kwargs={"size": 99}), processor=processor)
    with pytest.raises(ValueError, match="on_policy_fraction > 0 builds its own stream"):
        build_g0_trainer(model, small(tmp_path, on_policy_fraction=0.5), processor=processor, train_dataset=ds)


def test_on_policy_training_wires_the_pool_between_rewards_and_stream(tiny_vlm, tmp_path):
    model, processor = tiny_vlm
    trainer = build_g0_trainer(model, small(tmp_path, on_policy_fraction=0.5), processor=processor)
    game = trainer.reward_funcs[0]
    assert game.on_policy is not None and game.on_policy.fraction == 0.5
    assert trainer.args.reward_weights == [1.0, 1.0, 0.0]


def test_cli_parses_every_config_field():
    cfg, script = parse_g0_args(["--env", "VLMGym/2048-v0", "--model", "Qwen/Qwen2.5-VL-7B-Instruct",
                                 "--output-dir", "runs/x", "--learning_rate", "2e-6", "--use_lora",
                                 "--perception_reward_weight", "0.1", "--env_kwargs", '{"size": 5}',
                                 "--use_cpu", "--bf16", "false", "--report_to", "none"])
    assert cfg.output_dir == "runs/x" and cfg.learning_rate == 2e-6 and cfg.use_lora
    assert cfg.perception_reward_weight == 0.1 and cfg.game_specs()[0].env_kwargs == {"size": 5}
    assert script.model == "Qwen/Qwen2.5-VL-7B-Instruct" and script.processor is None


def test_cli_reports_bad_input_without_a_traceback(tiny_vlm_dir, tmp_path, capsys):
    common = ["--output-dir", str(tmp_path / "o"), "--use_cpu", "--bf16", "false", "--report_to", "none"]
    assert main(["g0", "--env", "VLMGym/Nope-v0", "--model", "m", *common]) == 2
    assert "unknown env ids ['VLMGym/Nope-v0']" in capsys.readouterr().err
    assert main(["g0", "--env", "VLMGym/2048-v0", "--model", str(tiny_vlm_dir), *common]) == 2
    assert "has no image processor" in capsys.readouterr().err
    assert main(["nope"]) == 2 and main(["--help"]) == 0


def test_cli_saves_a_state_dataset(tmp_path):
    out = tmp_path / "states"
    assert main(["states", "--env", "VLMGym/2048-v0", "-n", "5", "--seed", "4", "--out", str(out)]) == 0
    saved = load_from_disk(str(out))
    assert saved["state_id"] == build_state_dataset("VLMGym/2048-v0", 5, seed=4)["state_id"]
    assert main(["states", "--env", "VLMGym/Nope-v0", "-n", "5", "--out", str(out)]) == 2


def test_console_script_is_installed():
    out = subprocess.run([sys.executable, "-m", "vlmgym_rl.cli", "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "vlmgym-rl g0" in out.stdout
    from importlib.metadata import entry_points

    (ep,) = [e for e in entry_points(group="console_scripts") if e.name == "vlmgym-rl"]
    assert ep.value == "vlmgym_rl.cli:main"


EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "rl"


@pytest.mark.parametrize("script", sorted(EXAMPLES.glob("g0_*.sh")), ids=lambda p: p.name)
def test_example_launchers_pass_valid_arguments(script, tmp_path):
    """The GPU launchers cannot run here; their vlmgym-rl arguments must parse and size batches right."""
    text = script.read_text()
    body = text[text.index("G0_ARGS=(") + len("G0_ARGS=("):]
    body = body[: body.index("\n)\n")]
    values = {"MODEL": "Qwen/Qwen2.5-VL-7B-Instruct", "ENV_ID": "VLMGym/2048-v0", "OUT": str(tmp_path),
              "PORT": "8000"}
    body = re.sub(r"\$\{(\w+):-([^}]*)\}", lambda m: values.get(m.group(1), m.group(2)), body)
    body = re.sub(r"\$(\w+)", lambda m: values[m.group(1)], body)
    args = shlex.split(body, comments=True)
    cfg, script_args = parse_g0_args([*args, "--use_cpu", "--bf16", "false"])
    assert script_args.model == values["MODEL"] and cfg.output_dir == str(tmp_path)
    processes = int(re.search(r"^NUM_PROCESSES=(\d+)$", text, re.M).group(1))
    completions = cfg.states_per_step * cfg.num_generations
    assert completions % (cfg.per_device_train_batch_size * processes) == 0
    assert "accelerate/" in text and (EXAMPLES / "accelerate").is_dir()
    for config in re.findall(r"accelerate/(\w+)\.yaml", text.replace("zero$ZERO", "zero3")):
        assert (EXAMPLES / "accelerate" / f"{config}.yaml").is_file()


def test_lora_loads_the_frozen_base_in_bf16_but_full_finetuning_keeps_float32(tmp_path):
    from vlmgym_rl.recipes import G0Config
    from vlmgym_rl.sft import ColdStartConfig

    common = {"output_dir": str(tmp_path), "use_cpu": True, "report_to": "none"}
    assert G0Config(env_ids=["VLMGym/2048-v0"], use_lora=True, **common).model_init_kwargs == {
        "dtype": "bfloat16"}
    assert G0Config(env_ids=["VLMGym/2048-v0"], **common).model_init_kwargs is None
    assert G0Config(env_ids=["VLMGym/2048-v0"], use_lora=True, bf16=False, **common).model_init_kwargs is None
    explicit = G0Config(env_ids=["VLMGym/2048-v0"], use_lora=True, model_init_kwargs='{"dtype": "float16"}',
                        **common)
    assert explicit.model_init_kwargs == {"dtype": "float16"}
    assert ColdStartConfig(use_lora=True, **common).model_init_kwargs == {"dtype": "bfloat16"}


def test_full_finetuning_loads_bf16_under_deepspeed_only():
    from types import SimpleNamespace

    from vlmgym_rl.recipes import choose_load_dtype

    def chosen(**kw):
        cfg = SimpleNamespace(**{"model_init_kwargs": None, "bf16": True, "use_lora": False, "deepspeed": None, **kw})
        choose_load_dtype(cfg)
        return cfg.model_init_kwargs

    assert chosen() is None                                   # plain full fine-tune: fp32 weights get the updates
    assert chosen(deepspeed="zero3.json") == {"dtype": "bfloat16"}  # fp32 master copy in DeepSpeed's optimizer
    assert chosen(deepspeed="zero3.json", bf16=False) is None
    assert chosen(deepspeed="zero3.json", model_init_kwargs='{"dtype": "float32"}') == {"dtype": "float32"}


def test_pixel_bounds_reach_the_processor_and_bad_bounds_are_refused(tiny_vlm):
    from vlmgym_rl.recipes import apply_pixel_bounds

    _, processor = tiny_vlm
    apply_pixel_bounds(processor, 262144, 4194304)
    size = processor.image_processor.size
    assert (size["shortest_edge"], size["longest_edge"]) == (262144, 4194304)
    from PIL import Image

    out = processor.image_processor(images=[Image.new("RGB", (56, 56))], return_tensors="pt")
    h, w = (int(x) for x in out["image_grid_thw"][0][1:])
    assert h * w * 14 * 14 >= 262144  # a 56 px board is upscaled to at least min_pixels
    for bad, msg in (((0, None), "positive"), ((10, 5), "exceeds"), ((True, None), "positive")):
        with pytest.raises(ValueError, match=msg):
            apply_pixel_bounds(processor, *bad)


def test_resume_last_means_newest_checkpoint_or_a_fresh_start(tmp_path):
    from vlmgym_rl.recipes import resolve_checkpoint

    assert resolve_checkpoint("last", tmp_path / "missing") is None
    assert resolve_checkpoint("last", tmp_path) is None
    for step in (5, 20, 10):
        (tmp_path / f"checkpoint-{step}").mkdir()
    assert resolve_checkpoint("last", tmp_path) == str(tmp_path / "checkpoint-20")
    assert resolve_checkpoint("some/dir", tmp_path) == "some/dir"
    assert resolve_checkpoint(None, tmp_path) is None
