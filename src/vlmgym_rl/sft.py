"""The G1 recipe: supervised cold start (TRL's ``SFTTrainer``), then the G0 recipe from it.

:class:`ColdStartConfig` is a :class:`trl.SFTConfig` whose defaults are the paper's cold start:

=====================================  ==========================================================
paper                                   ``ColdStartConfig``
=====================================  ==========================================================
lr 2e-5                                 ``learning_rate=2e-5``
1 epoch                                 ``num_train_epochs=1``
loss on the teacher response            prompt-completion rows: TRL's completion-only loss
images never cut                        ``max_length=None`` (TRL's 1024 would truncate image tokens)
bf16, vision tower trainable            ``bf16=True`` (TRL's default), full fine-tune
=====================================  ==========================================================

:func:`train_sft` trains on a cold-start dataset (:mod:`vlmgym_rl.coldstart`) and saves a
complete model (LoRA adapters are merged in, so the checkpoint loads as a plain model), and
:func:`train_g1` runs the whole pipeline -- cold-start data, SFT, G0 from the SFT checkpoint --
in one folder, resuming whichever stage an interrupted run had reached.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from trl import SFTConfig

from vlmgym_rl.recipes import (LoraArguments, ProcessorArguments, apply_pixel_bounds, choose_load_dtype, prepare_resume,
                               resolve_checkpoint)

__all__ = ["ColdStartConfig", "G1Result", "build_sft_trainer", "run_sft", "train_g1", "train_sft",
           "validate_coldstart_dataset"]

logger = logging.getLogger(__name__)

#: Written into the output folder once an SFT run has saved its final model.
SFT_DONE = "vlmgym_sft.json"


def _help(text: str) -> dict[str, Any]:
    return {"help": text}


@dataclass
class ColdStartConfig(SFTConfig, LoraArguments, ProcessorArguments):
    """:class:`trl.SFTConfig` with the paper's cold start as defaults (see the module docstring)."""

    learning_rate: float = field(default=2e-5, metadata=_help("Learning rate (paper: 2e-5)."))
    num_train_epochs: float = field(default=1.0, metadata=_help("Epochs over the cold-start data (paper: 1)."))
    max_length: int | None = field(
        default=None, metadata=_help("No truncation: a cut would drop image tokens (TRL's default is 1024)."))
    logging_steps: float = field(default=10, metadata=_help("Log every N steps."))

    # -- vlmgym ---------------------------------------------------------------------------------------
    verify_dataset: bool = field(
        default=True, metadata=_help("Check before training that every example's answer is rewarded by its env "
                                     "and its perception is the exact board text."))
    merge_lora: bool = field(
        default=True, metadata=_help("Merge the adapters into the saved model (a plain checkpoint for G0)."))

    def __post_init__(self) -> None:
        super().__post_init__()
        choose_load_dtype(self)
        if self.max_length is not None and self.max_length < 1:
            raise ValueError(f"max_length must be a positive integer or None, got {self.max_length}")
        if self.packing:
            raise ValueError("packing is not supported for image datasets; leave packing=False")


# -- dataset checks -----------------------------------------------------------------------------------
def validate_coldstart_dataset(dataset: Any, *, verify: bool = True) -> None:
    """Raise before training if ``dataset`` is not usable for the cold start.

    Checks the prompt-completion columns with images, that every prompt has as many image slots as
    the row has images, and (``verify``, when the rows carry their ``state``) that every
    completion's perception is the exact board text and its answer is rewarded by the env.
    """
    import gymnasium as gym
    from datasets import Dataset

    import vlmgym
    from vlmgym.core.answer import perception_exact

    if not isinstance(dataset, Dataset):
        raise TypeError(f"the cold-start dataset must be a datasets.Dataset, got {type(dataset).__name__}")
    missing = [c for c in ("prompt", "completion", "images") if c not in dataset.column_names]
    if missing:
        raise ValueError(f"the cold-start dataset lacks columns {missing} (has {dataset.column_names}); build it with "
                         "vlmgym-rl coldstart / vlmgym_rl.coldstart.build_coldstart_dataset")
    if len(dataset) == 0:
        raise ValueError("the cold-start dataset is empty")
    prompts = dataset["prompt"]
    completions = dataset["completion"]
    import pyarrow.compute as pc

    images = dataset.select_columns(["images"]).with_format("arrow")["images"]  # no image is decoded
    counts = [0 if n is None else int(n) for n in pc.list_value_length(images).to_pylist()]
    for i, (prompt, completion, n) in enumerate(zip(prompts, completions, counts)):
        slots = sum(1 for m in prompt for b in (m["content"] if isinstance(m["content"], list) else [])
                    if b.get("type") == "image")
        if slots != n:
            raise ValueError(f"row {i}: the prompt has {slots} image slots but the row has {n} images")
        if not completion or completion[-1]["role"] != "assistant":
            raise ValueError(f"row {i}: the completion must end with an assistant message")
    if not verify or not {"state", "env_id", "env_kwargs", "board_text"} <= set(dataset.column_names):
        return
    cols = dataset.select_columns(["state", "env_id", "env_kwargs", "board_text"])
    groups: dict[tuple[str, str], list[int]] = {}
    for i, (env_id, kw) in enumerate(zip(cols["env_id"], cols["env_kwargs"])):
        groups.setdefault((env_id, kw), []).append(i)
    texts = [_text(c) for c in completions]
    boards = cols["board_text"]
    blobs = cols["state"]
    for i, (t, b) in enumerate(zip(texts, boards)):
        if not perception_exact(t, b):
            raise ValueError(f"row {i}: the completion's <perception> block is not the exact board text")
    for (env_id, kw), idx in groups.items():
        if not vlmgym.is_vlmgym_id(env_id):
            raise ValueError(f"row {idx[0]}: unknown env id {env_id!r}")
        env: Any = gym.make_vec(env_id, num_envs=1, obs_mode="text", action_mode="text", reward_mode="binary",
                                **json.loads(kw or "{}"))
        try:
            states = [vlmgym.GameState.from_bytes(blobs[i]) for i in idx]
            rewards, _ = env.score(states, [texts[i] for i in idx])
        finally:
            env.close()
        bad = [idx[j] for j in np.flatnonzero(rewards <= 0)]
        if bad:
            raise ValueError(f"rows {bad[:10]} of the cold-start dataset are not rewarded by {env_id} (wrong answers); "
                             "rebuild the dataset or pass verify_dataset=False")


def _text(messages: Any) -> str:
    content = messages[-1]["content"]
    if isinstance(content, str):
        return content
    return "".join(b.get("text") or "" for b in content if b.get("type") == "text")


# -- trainer ------------------------------------------------------------------------------------------
def build_sft_trainer(model: Any, config: ColdStartConfig | None = None, *, train_dataset: Any,
                      processor: Any = None, peft_config: Any = None, callbacks: list[Any] | None = None,
                      **trainer_kwargs: Any) -> Any:
    """A ready ``SFTTrainer`` for the cold start, with every input checked first.

    Args:
        model: a model id or path (loaded by TRL with ``config.model_init_kwargs``), or a model.
        config: a :class:`ColdStartConfig` (default: the paper's cold start).
        train_dataset: a cold-start dataset, or a path to one (build folder, ``save_to_disk``
            folder or Parquet file; see :func:`vlmgym_rl.coldstart.load_coldstart_dataset`).
        processor: the model's processor (default: ``AutoProcessor.from_pretrained(model)``).
        peft_config: a ``peft.PeftConfig`` (default: LoRA from the config when ``use_lora``).
        callbacks: extra trainer callbacks.
    """
    from trl import SFTTrainer

    from vlmgym_rl.callback import VLMGymCallback
    from vlmgym_rl.coldstart import load_coldstart_dataset
    from vlmgym_rl.recipes import load_processor

    config = config if config is not None else ColdStartConfig()
    if not isinstance(config, ColdStartConfig):
        raise TypeError(f"config must be a ColdStartConfig, got {type(config).__name__}")
    if isinstance(train_dataset, (str, os.PathLike)):
        train_dataset = load_coldstart_dataset(train_dataset)
    validate_coldstart_dataset(train_dataset, verify=config.verify_dataset)
    processor = apply_pixel_bounds(load_processor(model, processor), config.min_pixels, config.max_pixels)
    if not isinstance(model, str) and (not hasattr(model, "config") or not hasattr(model, "forward")):
        raise TypeError(f"model must be a model id/path or a transformers model, got {type(model).__name__}")
    if peft_config is None:
        peft_config = config.lora_config()
    trainer = SFTTrainer(model=model, args=config, train_dataset=train_dataset, processing_class=processor,
                         peft_config=peft_config, callbacks=callbacks, **trainer_kwargs)
    plugin = getattr(trainer.accelerator.state, "deepspeed_plugin", None)
    if peft_config is not None and config.merge_lora and plugin is not None and plugin.zero_stage == 3:
        raise ValueError("merging LoRA adapters is not supported under DeepSpeed ZeRO-3 (the weights are sharded); "
                         "fine-tune all weights with ZeRO-3, use ZeRO-2, or pass merge_lora=False")
    # restores the weights of a resumed run when transformers cannot match the checkpoint's key names
    # (transformers#43701); no evaluation, no rollout log
    trainer.add_callback(VLMGymCallback(trainer, eval_every=0, eval_at_end=False, rollout_log=False))
    return trainer


def _save_final(trainer: Any, out: Path, merge_lora: bool) -> None:
    model = trainer.accelerator.unwrap_model(trainer.model)
    if merge_lora and hasattr(model, "merge_and_unload"):
        trainer.accelerator.wait_for_everyone()
        if trainer.accelerator.is_main_process:
            merged = model.merge_and_unload()
            merged.save_pretrained(str(out))
    else:
        trainer.save_model(str(out))
    if trainer.accelerator.is_main_process:
        trainer.processing_class.save_pretrained(str(out))


def train_sft(model: Any, config: ColdStartConfig | None = None, *, train_dataset: Any,
              resume_from_checkpoint: str | bool | None = None, **kwargs: Any) -> Any:
    """Build the cold-start trainer (see :func:`build_sft_trainer`), train, save; return it.

    The final model (adapters merged when ``merge_lora``) and the processor go to ``output_dir``,
    followed by ``vlmgym_sft.json`` (the marker :func:`train_g1` uses to skip a finished SFT stage).
    """
    trainer = build_sft_trainer(model, config, train_dataset=train_dataset, **kwargs)
    return run_sft(trainer, resume_from_checkpoint=resume_from_checkpoint)


def run_sft(trainer: Any, *, resume_from_checkpoint: str | bool | None = None) -> Any:
    """Train a trainer from :func:`build_sft_trainer` and save it as :func:`train_sft` does."""
    prepare_resume(trainer, resume_from_checkpoint)
    result = trainer.train(resume_from_checkpoint=resume_from_checkpoint)
    out = Path(trainer.args.output_dir)
    _save_final(trainer, out, trainer.args.merge_lora)
    if trainer.accelerator.is_main_process:
        record = {"examples": len(trainer.train_dataset), "global_step": int(trainer.state.global_step),
                  "train_loss": float(result.training_loss), "learning_rate": trainer.args.learning_rate,
                  "epochs": trainer.args.num_train_epochs, "lora": bool(trainer.args.use_lora),
                  "merged": bool(trainer.args.use_lora and trainer.args.merge_lora)}
        (out / SFT_DONE).write_text(json.dumps(record, indent=2))
    trainer.accelerator.wait_for_everyone()
    return trainer


def _release(trainer: Any) -> None:
    """Drop a finished trainer's model and optimizer (its state and logs stay readable)."""
    import gc

    import torch

    trainer.accelerator.free_memory()
    trainer.model = trainer.model_wrapped = None
    trainer.optimizer = trainer.lr_scheduler = None
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


# -- G1 -----------------------------------------------------------------------------------------------
@dataclass
class G1Result:
    """What :func:`train_g1` did: the folders of each stage and the trainers it ran (``None`` for a
    stage that was already finished)."""

    root: Path
    coldstart: Path | None
    sft_dir: Path
    rl_dir: Path
    sft_trainer: Any
    g0_trainer: Any
    coldstart_stats: dict[str, Any] | None


def train_g1(model: Any, output_dir: str | os.PathLike[str], *, g0_config: Any = None,
             sft_config: ColdStartConfig | None = None, coldstart: Any = None, num_states: int = 1000,
             teacher: Any = "oracle", teacher_options: dict[str, Any] | None = None, coldstart_seed: int = 0,
             coldstart_chunk_size: int = 64, processor: Any = None, **g0_kwargs: Any) -> G1Result:
    """The G1 pipeline: cold-start data, supervised fine-tuning, then G0 from the SFT checkpoint.

    Everything lives under ``output_dir``: ``coldstart/`` (the data, unless ``coldstart`` is given),
    ``sft/`` (the cold-started model) and ``rl/`` (the G0 run). ``sft_config.output_dir`` and
    ``g0_config.output_dir`` are set to those folders. Run it again after an interruption and it
    continues: a partial data build resumes from its shards, a finished SFT stage (``sft/`` with
    ``vlmgym_sft.json``) is skipped and an unfinished one resumes from its last checkpoint, and the
    G0 run resumes from its last checkpoint in ``rl/``.

    Args:
        model: the base model (id or path; a loaded model is trained in place by the SFT stage).
        g0_config: a :class:`~vlmgym_rl.recipes.G0Config` for the RL stage (its games are also the
            cold-start games). Its KL reference is the SFT checkpoint.
        sft_config: a :class:`ColdStartConfig` (default: the paper's cold start).
        coldstart: a cold-start dataset or a path to one; ``None`` builds one with
            ``num_states`` examples per game from ``teacher`` (``"oracle"`` or ``"openai:MODEL"``).
        processor: the processor (default: loaded from ``model``, then from ``sft/``).
        **g0_kwargs: passed to :func:`~vlmgym_rl.recipes.train_g0` (e.g. ``callbacks``,
            ``rollout_func``).
    """
    from vlmgym_rl.coldstart import build_coldstart_dataset, load_coldstart_dataset
    from vlmgym_rl.recipes import G0Config, train_g0

    root = Path(output_dir)
    g0_config = g0_config if g0_config is not None else G0Config(output_dir=str(root / "rl"))
    if not isinstance(g0_config, G0Config):
        raise TypeError(f"g0_config must be a G0Config, got {type(g0_config).__name__}")
    sft_config = sft_config if sft_config is not None else ColdStartConfig(output_dir=str(root / "sft"))
    if not isinstance(sft_config, ColdStartConfig):
        raise TypeError(f"sft_config must be a ColdStartConfig, got {type(sft_config).__name__}")
    sft_dir, rl_dir = root / "sft", root / "rl"
    sft_config.output_dir = str(sft_dir)
    g0_config.output_dir = str(rl_dir)
    root.mkdir(parents=True, exist_ok=True)

    stats = None
    data_dir: Path | None = None
    sft_trainer = None
    if not (sft_dir / SFT_DONE).is_file():
        if coldstart is None:
            from accelerate import PartialState

            data_dir = root / "coldstart"
            state = PartialState()
            if state.is_main_process:  # one process builds; the others wait and read the result
                built = build_coldstart_dataset(g0_config.game_specs(), num_states, data_dir, teacher=teacher,
                                                teacher_options=teacher_options, seed=coldstart_seed,
                                                chunk_size=coldstart_chunk_size,
                                                system_prompt=g0_config.system_prompt, progress=logger.info)
                dataset, stats = built.dataset, built.stats
                if not built.complete:
                    logger.warning("the cold-start data is incomplete (see %s/stats.json); training on %d examples",
                                   data_dir, len(dataset))
            state.wait_for_everyone()
            if not state.is_main_process:
                dataset = load_coldstart_dataset(data_dir)
                stats = json.loads((data_dir / "stats.json").read_text())
        elif isinstance(coldstart, (str, os.PathLike)):
            data_dir = Path(coldstart)
            dataset = load_coldstart_dataset(coldstart)
        else:
            dataset = coldstart
        sft_trainer = train_sft(model, sft_config, train_dataset=dataset, processor=processor,
                                resume_from_checkpoint=resolve_checkpoint("last", sft_dir))
        processor = sft_trainer.processing_class
        _release(sft_trainer)  # G0 loads the saved checkpoint; free the SFT copy and its optimizer first
    else:
        logger.info("the SFT stage is finished (%s); going on with G0", sft_dir / SFT_DONE)
    g0_trainer = train_g0(str(sft_dir), g0_config, processor=processor,
                          resume_from_checkpoint=resolve_checkpoint("last", rl_dir),
                          **g0_kwargs)
    return G1Result(root, data_dir, sft_dir, rl_dir, sft_trainer, g0_trainer, stats)
