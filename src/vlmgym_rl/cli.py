"""Command line: vlmgym-rl <command> (or python -m vlmgym_rl <command>); needs pip install "vlmgym[rl]".

Commands:
    g0         train with the G0 recipe (GRPO from the base model on the games)
    g1         the G1 pipeline: cold-start data, supervised fine-tuning, then G0 from that checkpoint
    coldstart  build a cold-start dataset (verified teacher responses with the exact perception)
    sft        supervised fine-tuning on a cold-start dataset (the paper: lr 2e-5, 1 epoch)
    report     plots and a Markdown summary of a run's rollout log (rewards, P_acc, R_acc, ...)
    states     sample a fixed state dataset and save it (datasets.Dataset.save_to_disk)

Example: vlmgym-rl g0 --env VLMGym/2048-v0 --model Qwen/Qwen2.5-VL-7B-Instruct --output-dir runs/g0
Every G0Config / GRPOConfig field is a flag (--learning_rate 2e-6, --use_vllm, --use_lora, ...);
vlmgym-rl g0 --help lists them. vlmgym-rl g1 takes the same flags for its RL stage plus
--coldstart_* / --sft_* ones; vlmgym-rl sft --help lists the ColdStartConfig fields.
Launch on several GPUs with: accelerate launch --config_file ... -m vlmgym_rl.cli g0 ...
vlmgym-rl --version prints the versions of vlmgym and the training stack.
"""

# The docstring above is printed by `vlmgym-rl --help`: plain text, no reST markup.
from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

__all__ = ["G0ScriptArguments", "G1ScriptArguments", "SFTScriptArguments", "main", "parse_g0_args", "parse_g1_args",
           "parse_sft_args"]


@dataclass
class G0ScriptArguments:
    """Arguments of ``vlmgym-rl g0`` besides the training configuration."""

    model: str = field(metadata={"help": "Model id or path (a vision-language model with a processor)."})
    processor: str | None = field(default=None, metadata={"help": "Processor id or path, or module:attr naming a processor class or a loader called with the model path (default: the model's)."})


_LIST_FLAGS = (("--env", "--env_ids", "--env-ids"), ("--env_weights", "--env-weights"))


def _merge_repeated(argv: list[str]) -> list[str]:
    """``--env A --env B`` -> ``--env A B``: list flags take several values after one flag, and a
    repeated flag would otherwise silently keep only its last values."""
    out = list(argv)
    for names in _LIST_FLAGS:
        hits = [i for i, a in enumerate(out) if a in names or a.split("=", 1)[0] in names]
        if len(hits) < 2:
            continue
        values: list[str] = []
        keep: list[str] = []
        i = 0
        while i < len(out):
            a = out[i]
            flag = a.split("=", 1)[0]
            if flag in names:
                if "=" in a:
                    values.append(a.split("=", 1)[1])
                    i += 1
                else:
                    i += 1
                    while i < len(out) and not out[i].startswith("--"):
                        values.append(out[i])
                        i += 1
                continue
            keep.append(a)
            i += 1
        out = [names[0], *values, *keep]
    return out


def parse_g0_args(argv: list[str]) -> tuple[Any, G0ScriptArguments]:
    """``argv`` (after ``g0``) -> (:class:`G0Config`, :class:`G0ScriptArguments`).

    ``--env`` takes several ids (``--env A B``); a repeated ``--env`` adds to them.
    """
    from transformers import HfArgumentParser

    from vlmgym_rl.recipes import G0Config

    parser = HfArgumentParser(cast(Any, (G0Config, G0ScriptArguments)), prog="vlmgym-rl g0",
                              description="Train a VLM on vlmgym games with the G0 recipe (GRPO).")
    config, script = parser.parse_args_into_dataclasses(args=_merge_repeated(argv))
    return config, script


class _SetupError(Exception):
    """Bad input found before training started (printed without a traceback)."""


def _cmd_g0(argv: list[str]) -> int:
    try:
        config, script = parse_g0_args(argv)
        from vlmgym_rl.recipes import build_g0_trainer, processor_from_spec

        processor = processor_from_spec(script.processor, script.model)
        trainer = build_g0_trainer(script.model, config, processor=processor)
    except (ValueError, TypeError, KeyError, OSError) as exc:
        raise _SetupError(str(exc)) from exc
    from vlmgym_rl.recipes import resolve_checkpoint, run_g0

    # --resume_from_checkpoint DIR, or "last" for the newest checkpoint in --output-dir if there is one
    run_g0(trainer, resume_from_checkpoint=resolve_checkpoint(config.resume_from_checkpoint, config.output_dir))
    return 0


def _cmd_states(argv: list[str]) -> int:
    from vlmgym_rl.states import GameSpec, build_state_dataset

    p = argparse.ArgumentParser(prog="vlmgym-rl states", description="Sample states and save a dataset.")
    p.add_argument("--env", action="append", required=True, help="env id (repeat for a mixture)")
    p.add_argument("--weight", action="append", type=float, help="mixture weight per --env")
    p.add_argument("--env-kwargs", default="{}", help="JSON object of env kwargs for every env")
    p.add_argument("-k", type=int, default=None, help="random moves after reset (default: per game)")
    p.add_argument("-n", "--num-states", type=int, required=True)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True, help="directory for Dataset.save_to_disk")
    a = p.parse_args(argv)
    weights = a.weight or [1.0] * len(a.env)
    if len(weights) != len(a.env):
        p.error("give one --weight per --env")
    try:
        kwargs = json.loads(a.env_kwargs)
    except json.JSONDecodeError as exc:
        p.error(f"--env-kwargs is not JSON: {exc}")
    try:
        specs = [GameSpec(e, kwargs, weight=w, k=a.k) for e, w in zip(a.env, weights)]
        ds = build_state_dataset(specs, a.num_states, seed=a.seed)
    except (ValueError, TypeError) as exc:
        raise _SetupError(str(exc)) from exc
    ds.save_to_disk(a.out)
    print(f"saved {len(ds)} states to {a.out}")
    return 0


# -- cold start ---------------------------------------------------------------------------------------
def _print_acceptance(stats: dict[str, Any]) -> None:
    rows = [("game", "examples", "states", "requests", "accepted", "accept/state", "accept/answer", "rejected")]
    for name, g in [*stats["games"].items(), ("total", stats["total"])]:
        rate = g["acceptance_rate"]
        arate = g["answer_acceptance_rate"]
        rej = ", ".join(f"{k} {v}" for k, v in g["rejected"].items()) or "-"
        rows.append((name, f"{g['examples']}/{g['target']}", str(g["states_sampled"]), str(g["requests"]),
                     str(g["accepted"]), "-" if rate is None else f"{rate:.1%}", "-" if arate is None else f"{arate:.1%}",
                     rej))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())


def _cmd_coldstart(argv: list[str]) -> int:
    from vlmgym_rl.coldstart import build_coldstart_dataset
    from vlmgym_rl.states import GameSpec

    p = argparse.ArgumentParser(prog="vlmgym-rl coldstart",
                                description="Build a cold-start dataset: N verified examples per game whose "
                                            "<perception> is the exact board text (resumable).")
    p.add_argument("--env", action="extend", nargs="+", required=True,
                   help="env ids (--env A B, or --env A --env B)")
    p.add_argument("--env-kwargs", default="{}", help="JSON object of env kwargs for every env")
    p.add_argument("-k", type=int, default=None, help="random moves after reset (default: per game)")
    p.add_argument("-n", "--num-states", type=int, required=True, help="examples per game (paper: about 1000)")
    p.add_argument("--out", required=True, help="build folder (shards, stats.json, dataset/, coldstart.parquet)")
    p.add_argument("--teacher", default="oracle", help="'oracle' (built-in solver) or 'openai:MODEL'")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--chunk-size", type=int, default=64, help="states per shard (the unit of resumption)")
    p.add_argument("--max-attempts", type=int, default=None, help="requests per state (default: oracle 1, API 3)")
    p.add_argument("--system-prompt", default=None)
    p.add_argument("--overwrite", action="store_true", help="replace a build with other settings in --out")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    api = p.add_argument_group("openai:MODEL teacher")
    api.add_argument("--base-url", default=None, help="endpoint (default $OPENAI_BASE_URL or api.openai.com)")
    api.add_argument("--api-key-env", default="OPENAI_API_KEY", help="variable holding the key (EMPTY for vllm)")
    api.add_argument("--concurrency", type=int, default=8)
    api.add_argument("--temperature", type=float, default=0.7)
    api.add_argument("--max-tokens", type=int, default=4096)
    api.add_argument("--timeout", type=float, default=120.0,
                     help="total seconds per request attempt: connect, send and the whole response")
    api.add_argument("--board-text-hint", action="store_true",
                     help="also show the teacher the exact board text (never stored in the prompts)")
    a = p.parse_args(argv)
    try:
        kwargs = json.loads(a.env_kwargs)
    except json.JSONDecodeError as exc:
        p.error(f"--env-kwargs is not JSON: {exc}")
    options: dict[str, Any] = {}
    if a.teacher != "oracle":
        options = {"base_url": a.base_url, "api_key_env": a.api_key_env, "concurrency": a.concurrency,
                   "temperature": a.temperature, "max_tokens": a.max_tokens, "timeout": a.timeout,
                   "board_text_hint": a.board_text_hint, "seed": a.seed}
    try:
        specs = [GameSpec(e, kwargs, k=a.k) for e in a.env]
        result = build_coldstart_dataset(specs, a.num_states, a.out, teacher=a.teacher, teacher_options=options,
                                         seed=a.seed, chunk_size=a.chunk_size, max_attempts=a.max_attempts,
                                         system_prompt=a.system_prompt, overwrite=a.overwrite,
                                         progress=None if a.quiet else lambda line: print(line, flush=True))
    except (ValueError, TypeError) as exc:
        raise _SetupError(str(exc)) from exc
    _print_acceptance(result.stats)
    print(f"saved {len(result.dataset)} examples to {result.path}/dataset and {result.path}/coldstart.parquet "
          f"({result.stats['build_seconds']:.1f} s)")
    return 0 if result.complete else 1


# -- sft ------------------------------------------------------------------------------------------------
@dataclass
class SFTScriptArguments:
    """Arguments of ``vlmgym-rl sft`` besides the training configuration."""

    model: str = field(metadata={"help": "Model id or path (a vision-language model with a processor)."})
    dataset: str = field(metadata={"help": "Cold-start build folder, save_to_disk folder or .parquet file."})
    processor: str | None = field(default=None, metadata={"help": "Processor id or path, or module:attr naming a processor class or a loader called with the model path (default: the model's)."})


def parse_sft_args(argv: list[str]) -> tuple[Any, SFTScriptArguments]:
    """``argv`` (after ``sft``) -> (:class:`~vlmgym_rl.sft.ColdStartConfig`, :class:`SFTScriptArguments`)."""
    from transformers import HfArgumentParser

    from vlmgym_rl.sft import ColdStartConfig

    parser = HfArgumentParser(cast(Any, (ColdStartConfig, SFTScriptArguments)), prog="vlmgym-rl sft",
                              description="Supervised cold start on a cold-start dataset (TRL's SFTTrainer).")
    config, script = parser.parse_args_into_dataclasses(args=argv)
    return config, script


def _cmd_sft(argv: list[str]) -> int:
    try:
        config, script = parse_sft_args(argv)
        from vlmgym_rl.coldstart import load_coldstart_dataset
        from vlmgym_rl.recipes import processor_from_spec
        from vlmgym_rl.sft import build_sft_trainer

        dataset = load_coldstart_dataset(script.dataset)  # bad data is said before any download
        processor = processor_from_spec(script.processor, script.model)
        trainer = build_sft_trainer(script.model, config, train_dataset=dataset, processor=processor)
    except (ValueError, TypeError, KeyError, OSError) as exc:
        raise _SetupError(str(exc)) from exc
    from vlmgym_rl.recipes import resolve_checkpoint
    from vlmgym_rl.sft import run_sft

    # --resume_from_checkpoint DIR, or "last" for the newest checkpoint in --output-dir if there is one
    run_sft(trainer, resume_from_checkpoint=resolve_checkpoint(config.resume_from_checkpoint, config.output_dir))
    return 0


# -- g1 -------------------------------------------------------------------------------------------------
#: G0Config fields the SFT stage of ``g1`` copies (hardware, logging, LoRA).
SHARED_FIELDS = ("bf16", "fp16", "use_cpu", "report_to", "seed", "gradient_checkpointing", "deepspeed",
                 "disable_tqdm", "save_total_limit", "model_init_kwargs", "use_lora", "lora_r", "lora_alpha",
                 "lora_dropout", "lora_target_modules", "logging_steps")


@dataclass
class G1ScriptArguments:
    """Arguments of ``vlmgym-rl g1`` besides the RL stage's :class:`~vlmgym_rl.recipes.G0Config`."""

    model: str = field(metadata={"help": "Base model id or path (a vision-language model with a processor)."})
    processor: str | None = field(default=None, metadata={"help": "Processor id or path, or module:attr naming a processor class or a loader called with the model path (default: the model's)."})
    coldstart: str | None = field(
        default=None, metadata={"help": "An existing cold-start dataset (default: build one in OUTPUT_DIR/coldstart)."})
    coldstart_states: int = field(default=1000, metadata={"help": "Cold-start examples per game (paper: about 1000)."})
    coldstart_teacher: str = field(default="oracle", metadata={"help": "'oracle' or 'openai:MODEL'."})
    coldstart_seed: int = field(default=0, metadata={"help": "Seed of the cold-start states."})
    coldstart_base_url: str | None = field(default=None, metadata={"help": "Endpoint of an openai:MODEL teacher."})
    coldstart_api_key_env: str = field(default="OPENAI_API_KEY", metadata={"help": "Variable with the API key."})
    sft_learning_rate: float = field(default=2e-5, metadata={"help": "SFT learning rate (paper: 2e-5)."})
    sft_num_train_epochs: float = field(default=1.0, metadata={"help": "SFT epochs (paper: 1)."})
    sft_per_device_train_batch_size: int = field(default=4, metadata={"help": "SFT examples per device and step."})
    sft_gradient_accumulation_steps: int = field(default=4, metadata={"help": "SFT gradient accumulation."})
    sft_save_steps: int = field(default=200, metadata={"help": "SFT checkpoint interval (for resuming)."})
    sft_args: str | None = field(
        default=None, metadata={"help": "JSON object of further ColdStartConfig fields for the SFT stage."})


def parse_g1_args(argv: list[str]) -> tuple[Any, Any, G1ScriptArguments]:
    """``argv`` (after ``g1``) -> (:class:`G0Config` with ``output_dir`` = the pipeline's folder,
    :class:`~vlmgym_rl.sft.ColdStartConfig`, :class:`G1ScriptArguments`)."""
    from transformers import HfArgumentParser

    from vlmgym_rl.recipes import G0Config
    from vlmgym_rl.sft import ColdStartConfig

    parser = HfArgumentParser(cast(Any, (G0Config, G1ScriptArguments)), prog="vlmgym-rl g1",
                              description="G1: cold-start data, supervised fine-tuning, then G0 from that model.")
    config, script = parser.parse_args_into_dataclasses(args=_merge_repeated(argv))
    extra: dict[str, Any] = {}
    if script.sft_args:
        try:
            extra = json.loads(script.sft_args)
        except json.JSONDecodeError as exc:
            raise ValueError(f"--sft_args must be a JSON object: {exc}") from None
        if not isinstance(extra, dict):
            raise ValueError("--sft_args must be a JSON object")
    shared = {name: getattr(config, name) for name in SHARED_FIELDS}
    sft = ColdStartConfig(**{
        **shared, "output_dir": str(Path(config.output_dir) / "sft"), "learning_rate": script.sft_learning_rate,
        "num_train_epochs": script.sft_num_train_epochs,
        "per_device_train_batch_size": script.sft_per_device_train_batch_size,
        "gradient_accumulation_steps": script.sft_gradient_accumulation_steps, "save_steps": script.sft_save_steps,
        **extra})
    return config, sft, script


def _cmd_g1(argv: list[str]) -> int:
    try:
        config, sft_config, script = parse_g1_args(argv)
        from vlmgym_rl.recipes import processor_from_spec
        from vlmgym_rl.sft import train_g1

        processor = processor_from_spec(script.processor, script.model)
        if script.coldstart is not None:
            from vlmgym_rl.coldstart import load_coldstart_dataset

            load_coldstart_dataset(script.coldstart)  # fail now if it is not one
        options = None
        if script.coldstart_teacher != "oracle":
            options = {"base_url": script.coldstart_base_url, "api_key_env": script.coldstart_api_key_env}
            from vlmgym_rl.coldstart import make_teacher

            make_teacher(script.coldstart_teacher, **options).close()  # fail now on a missing key or bad URL
    except (ValueError, TypeError, KeyError, OSError) as exc:
        raise _SetupError(str(exc)) from exc
    root = config.output_dir
    train_g1(script.model, root, g0_config=config, sft_config=sft_config, coldstart=script.coldstart,
             num_states=script.coldstart_states, teacher=script.coldstart_teacher, teacher_options=options,
             coldstart_seed=script.coldstart_seed, processor=processor)
    return 0


# -- report ---------------------------------------------------------------------------------------------
def _cmd_report(argv: list[str]) -> int:
    from vlmgym_rl.report import METRICS, write_report

    p = argparse.ArgumentParser(prog="vlmgym-rl report",
                                description="Curves of game/format reward, P_acc, per-cell perception accuracy, "
                                            "R_acc and the localization pattern from a run's rollout log.")
    p.add_argument("run", help="the run's output folder (holding rollouts/rollouts.jsonl)")
    p.add_argument("--out", default=None, help="where to write (default RUN/report)")
    p.add_argument("--mode", choices=("train", "eval"), default="train")
    p.add_argument("--smooth", type=int, default=None, help="moving-average window in steps")
    p.add_argument("--no-plots", action="store_true", help="only metrics.csv and report.md")
    a = p.parse_args(argv)
    try:
        result = write_report(a.run, a.out, mode=a.mode, smooth=a.smooth, plots=not a.no_plots)
    except (ValueError, FileNotFoundError, ImportError) as exc:
        raise _SetupError(str(exc)) from exc
    overall = next(iter(result.summary.values()))["all"]
    print("  ".join(f"{k} {'-' if overall[k] is None else format(overall[k], '.3f')}" for k in METRICS))
    print(f"wrote {result.markdown}, {result.csv.name} and {len(result.plots)} plots to {result.out}")
    return 0


_COMMANDS = {"g0": _cmd_g0, "g1": _cmd_g1, "coldstart": _cmd_coldstart, "sft": _cmd_sft, "report": _cmd_report,
             "states": _cmd_states}

#: Top-level modules of the packages the rl extra brings (pip install "vlmgym[rl]").
RL_EXTRA_MODULES = ("torch", "transformers", "trl", "datasets", "accelerate", "peft")


def _version() -> str:
    """``vlmgym-rl 0.1.0 (trl 1.16.0, transformers ..., torch ...)``, read without importing them."""
    from importlib import metadata

    from vlmgym import __version__

    stack = []
    for name in ("trl", "transformers", "torch", "datasets", "accelerate", "peft"):
        try:
            stack.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            stack.append(f"{name} missing")
    return f"vlmgym-rl {__version__} ({', '.join(stack)})"


def main(argv: list[str] | None = None) -> int:
    """The ``vlmgym-rl`` command; a closed stdout (``vlmgym-rl --help | head -1``) ends it quietly."""
    from vlmgym.cli_pipes import run_quietly

    return run_quietly(lambda: _main(argv))


def _main(argv: list[str] | None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "--version":
        print(_version())
        return 0
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in _COMMANDS:
        print(__doc__.strip(), file=sys.stderr if argv and argv[0] not in ("-h", "--help") else sys.stdout)
        return 0 if argv and argv[0] in ("-h", "--help") else 2
    try:
        return _COMMANDS[argv[0]](argv[1:])
    except _SetupError as exc:
        from vlmgym.eval import redact_text

        print(f"vlmgym-rl {argv[0]}: error: {redact_text(str(exc))}", file=sys.stderr)
        return 2
    except ModuleNotFoundError as exc:
        if (exc.name or "").split(".")[0] not in RL_EXTRA_MODULES:
            raise  # not a missing extra: a real bug, keep its traceback
        print(f"vlmgym-rl {argv[0]}: error: needs the rl extra (no module named {exc.name!r}): "
              f'pip install "vlmgym[rl]"', file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
