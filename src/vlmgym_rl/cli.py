"""Command line: ``vlmgym-rl <command>``.

Commands:
    g0       train with the G0 recipe (GRPO from the base model on the games)
    states   sample a fixed state dataset and save it (``datasets.Dataset.save_to_disk``)

``vlmgym-rl g0 --env VLMGym/2048-v0 --model Qwen/Qwen2.5-VL-7B-Instruct --output-dir runs/g0``;
every :class:`~vlmgym_rl.recipes.G0Config` / ``GRPOConfig`` field is a flag
(``--learning_rate 2e-6``, ``--use_vllm``, ``--use_lora``, ...); ``vlmgym-rl g0 --help`` lists them.
Launch on several GPUs with ``accelerate launch --config_file ... -m vlmgym_rl.cli g0 ...``.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from typing import Any, cast

__all__ = ["G0ScriptArguments", "main", "parse_g0_args"]


@dataclass
class G0ScriptArguments:
    """Arguments of ``vlmgym-rl g0`` besides the training configuration."""

    model: str = field(metadata={"help": "Model id or path (a vision-language model with a processor)."})
    processor: str | None = field(default=None, metadata={"help": "Processor id or path (default: the model's)."})


def parse_g0_args(argv: list[str]) -> tuple[Any, G0ScriptArguments]:
    """``argv`` (after ``g0``) -> (:class:`G0Config`, :class:`G0ScriptArguments`)."""
    from transformers import HfArgumentParser

    from vlmgym_rl.recipes import G0Config

    parser = HfArgumentParser(cast(Any, (G0Config, G0ScriptArguments)), prog="vlmgym-rl g0",
                              description="Train a VLM on vlmgym games with the G0 recipe (GRPO).")
    config, script = parser.parse_args_into_dataclasses(args=argv)
    return config, script


class _SetupError(Exception):
    """Bad input found before training started (printed without a traceback)."""


def _cmd_g0(argv: list[str]) -> int:
    try:
        config, script = parse_g0_args(argv)
        from vlmgym_rl.recipes import build_g0_trainer, load_processor

        processor = load_processor(script.processor) if script.processor else None
        trainer = build_g0_trainer(script.model, config, processor=processor)
    except (ValueError, TypeError, KeyError, OSError) as exc:
        raise _SetupError(str(exc)) from exc
    # --resume_from_checkpoint DIR, or "last" for the newest checkpoint in --output-dir
    resume: str | bool | None = True if config.resume_from_checkpoint == "last" else config.resume_from_checkpoint
    if isinstance(resume, str):
        from vlmgym_rl.callback import VLMGymCallback

        for cb in trainer.callback_handler.callbacks:
            if isinstance(cb, VLMGymCallback):
                cb.resume_checkpoint = resume
    trainer.train(resume_from_checkpoint=resume)
    trainer.save_model(config.output_dir)
    if trainer.accelerator.is_main_process:
        trainer.processing_class.save_pretrained(config.output_dir)
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


_COMMANDS = {"g0": _cmd_g0, "states": _cmd_states}


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in _COMMANDS:
        print(__doc__.strip(), file=sys.stderr if argv and argv[0] not in ("-h", "--help") else sys.stdout)
        return 0 if argv and argv[0] in ("-h", "--help") else 2
    try:
        return _COMMANDS[argv[0]](argv[1:])
    except _SetupError as exc:
        print(f"vlmgym-rl {argv[0]}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
