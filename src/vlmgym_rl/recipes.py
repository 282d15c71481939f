"""The G0 recipe (GRPO from the base model, on the games) as a TRL configuration and entry point.

:class:`G0Config` is a :class:`trl.GRPOConfig` whose defaults are the paper's recipe, plus the
vlmgym settings (games, state sampling, rewards, evaluation, LoRA). Every field can be overridden,
in Python or on the command line (``vlmgym-rl g0 --learning_rate 2e-6 ...``).

=============================================  ==================================================
paper                                           ``G0Config``
=============================================  ==================================================
5 answers per state                             ``num_generations=5``
temperature 1.0                                 ``temperature=1.0``
lr 1e-6, constant                               ``learning_rate=1e-6``, ``lr_scheduler_type="constant"``
clip 0.2                                        ``epsilon=0.2``
KL 0.01 (low-variance k3) to the initial policy ``beta=0.01`` (TRL's k3 estimator, reference = start)
group-normalised advantages                     ``scale_rewards="group"``
token-mean loss (the original's aggregation)    ``loss_type="bnpo"`` (not TRL's per-sequence ``"grpo"``)
plain k3 KL, no bias correction                 ``use_bias_correction_kl=False`` (TRL: True)
no importance-sampling fix of vLLM rollouts     ``vllm_importance_sampling_correction=False`` (TRL: True)
AdamW weight decay 1e-2                         ``weight_decay=0.01`` (TRL: 0)
processor min/max pixels 262144 / 4194304       ``min_pixels``, ``max_pixels`` (applied to the processor)
128 states per step, one optimizer step each    ``states_per_step=128`` -> gradient accumulation
8192 answer tokens                              ``max_completion_length=8192``
about 400-500 steps                             ``max_steps=500``
bf16                                            ``bf16=True``; weights loaded in bf16 under DeepSpeed
                                                (fp32 master copy in the optimizer) and with LoRA
fresh states every step, K random moves         ``stream_states=True``, ``sampler_k=None`` (per game)
game + format + 0 x perception                  ``format_reward_weight=1``, ``perception_reward_weight=0``
=============================================  ==================================================
"""

from __future__ import annotations

import json
import logging
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from transformers.trainer_utils import SchedulerType
from trl import GRPOConfig

import vlmgym
from vlmgym_rl.states import REQUIRED_COLUMNS, GameSpec

__all__ = ["G0Config", "apply_pixel_bounds", "build_g0_trainer", "choose_load_dtype", "load_processor",
           "processor_from_spec", "train_g0", "validate_state_dataset"]

logger = logging.getLogger(__name__)


def _help(text: str) -> dict[str, Any]:
    return {"help": text}


@dataclass
class LoraArguments:
    """LoRA (PEFT) options shared by the G0 and cold-start configs."""

    use_lora: bool = field(default=False, metadata=_help("Train LoRA adapters (PEFT) instead of all weights."))
    lora_r: int = field(default=64, metadata=_help("LoRA rank."))
    lora_alpha: int = field(default=128, metadata=_help("LoRA alpha."))
    lora_dropout: float = field(default=0.05, metadata=_help("LoRA dropout."))
    lora_target_modules: list[str] | None = field(
        default=None, metadata=_help("Modules to adapt (default: all linear layers, vision tower included)."))

    def lora_config(self) -> Any:
        """The ``peft.LoraConfig`` these options describe, or ``None`` without ``use_lora``."""
        if not self.use_lora:
            return None
        from peft import LoraConfig

        return LoraConfig(r=self.lora_r, lora_alpha=self.lora_alpha, lora_dropout=self.lora_dropout,
                          target_modules=self.lora_target_modules or "all-linear", task_type="CAUSAL_LM")


@dataclass
class ProcessorArguments:
    """Image resize bounds of the processor, shared by the G0 and cold-start configs."""

    min_pixels: int | None = field(
        default=262144, metadata=_help("Smallest image area the processor resizes to (original: 262144 = 512x512; "
                                       "None: the processor's own)."))
    max_pixels: int | None = field(
        default=4194304, metadata=_help("Largest image area (original: 4194304 = 2048x2048; None: the "
                                        "processor's own)."))


def choose_load_dtype(config: Any) -> None:
    """Load the model in bf16 when that loses nothing, unless a dtype was chosen.

    TRL loads a model given by name in float32 by default (a 7B model: 33 GB instead of 17 GB).
    With ``bf16`` the weights are loaded in bf16 when

    * LoRA trains adapters (kept in float32 by PEFT) on a frozen base, or
    * DeepSpeed runs the optimizer (``deepspeed=...``): its bf16 mode keeps a float32 master copy
      of the weights in the optimizer, so an update of lr 1e-6 is not rounded away, as the
      original's FSDP mixed precision does.

    Plain full fine-tuning without DeepSpeed keeps float32 weights (autocast computes in bf16):
    there the parameters themselves receive the updates, and bf16's 8-bit mantissa would drop most
    of an lr 1e-6 step.
    """
    kwargs = config.model_init_kwargs
    if isinstance(kwargs, str):
        kwargs = json.loads(kwargs)
    kwargs = dict(kwargs or {})
    if config.bf16 and "dtype" not in kwargs and "torch_dtype" not in kwargs and (
            config.use_lora or getattr(config, "deepspeed", None)):
        kwargs["dtype"] = "bfloat16"
    config.model_init_kwargs = kwargs or None


def apply_pixel_bounds(processor: Any, min_pixels: int | None, max_pixels: int | None) -> Any:
    """Set the image processor's resize bounds (pixels of the resized picture) and return it."""
    for name, v in (("min_pixels", min_pixels), ("max_pixels", max_pixels)):
        if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < 1):
            raise ValueError(f"{name} must be a positive integer or None, got {v!r}")
    if min_pixels is not None and max_pixels is not None and min_pixels > max_pixels:
        raise ValueError(f"min_pixels={min_pixels} exceeds max_pixels={max_pixels}")
    ip = getattr(processor, "image_processor", None)
    if ip is None or (min_pixels is None and max_pixels is None):
        return processor
    size = dict(getattr(ip, "size", None) or {})
    if min_pixels is not None:
        size["shortest_edge"] = min_pixels
        if hasattr(ip, "min_pixels"):
            ip.min_pixels = min_pixels
    if max_pixels is not None:
        size["longest_edge"] = max_pixels
        if hasattr(ip, "max_pixels"):
            ip.max_pixels = max_pixels
    ip.size = size
    return processor


@dataclass
class G0Config(GRPOConfig, LoraArguments, ProcessorArguments):
    """:class:`trl.GRPOConfig` with the paper's G0 recipe as defaults, plus vlmgym settings.

    See the module docstring for the mapping. ``states_per_step`` (when set) derives
    ``gradient_accumulation_steps`` and ``steps_per_generation`` so that one optimizer step consumes
    exactly ``states_per_step x num_generations`` completions, as in the paper; set it to ``None`` to
    size batches with the plain GRPOConfig fields instead.
    """

    # -- the paper's recipe (GRPOConfig fields with new defaults) -------------------------------
    num_generations: int | None = field(default=5, metadata=_help("Answers sampled per state (paper: 5)."))
    temperature: float = field(default=1.0, metadata=_help("Sampling temperature (paper: 1.0)."))
    learning_rate: float = field(default=1e-6, metadata=_help("Learning rate (paper: 1e-6, constant)."))
    lr_scheduler_type: SchedulerType | str = field(default="constant", metadata=_help("Paper: constant."))
    epsilon: float = field(default=0.2, metadata=_help("PPO clip range (paper: 0.2)."))
    beta: float = field(default=0.01, metadata=_help("KL coefficient against the initial policy (paper: 0.01)."))
    scale_rewards: str = field(default="group", metadata=_help("Group-normalised advantages (paper)."))
    loss_type: str = field(
        default="bnpo", metadata=_help("Loss aggregation: 'bnpo' = mean over the batch's tokens, as the original "
                                       "(verl/EasyR1 'token-mean'); TRL's 'grpo' averages per sequence first."))
    use_bias_correction_kl: bool = field(
        default=False, metadata=_help("Off (the original's plain k3 KL); TRL turns on an importance-weighted "
                                      "correction by default."))
    vllm_importance_sampling_correction: bool = field(
        default=False, metadata=_help("Off (the original has none); TRL masks or reweights tokens whose vLLM "
                                      "and trainer log-probabilities differ."))
    weight_decay: float = field(default=0.01, metadata=_help("AdamW weight decay (original: 1e-2)."))
    max_completion_length: int | None = field(default=8192, metadata=_help("Answer tokens (paper: 8192)."))
    max_steps: int = field(default=500, metadata=_help("Optimizer steps (paper: about 400-500)."))
    logging_steps: float = field(default=1, metadata=_help("Log every step."))
    remove_unused_columns: bool = field(
        default=False, metadata=_help("Must stay False: the rewards read the state columns."))
    shuffle_dataset: bool | None = field(
        default=False, metadata=_help("States are sampled at random already; streams must not be buffered."))

    # -- games and states -----------------------------------------------------------------------
    env_ids: list[str] = field(
        default_factory=lambda: ["VLMGym/2048-v0"],
        metadata={"aliases": ["--env"], "help": "Registered env ids to train on (several: a mixture)."})
    env_weights: list[float] | None = field(
        default=None, metadata=_help("Mixture weights, one per env id (default: equal)."))
    env_kwargs: dict | str | None = field(
        default=None,
        metadata=_help("Env kwargs (JSON object) for every env, or a JSON object keyed by env id."))
    sampler_k: int | None = field(
        default=None, metadata=_help("Random moves after reset (default: the paper's K per game)."))
    obs_mode: str = field(default="image", metadata=_help("'image' (paper) or 'image+text'."))
    states_per_step: int | None = field(
        default=128, metadata=_help("States per optimizer step (paper: 128); derives gradient accumulation."))
    stream_states: bool = field(default=True, metadata=_help("Fresh states every step (else a fixed dataset)."))
    num_states: int | None = field(
        default=None, metadata=_help("Size of the fixed dataset when stream_states=False (default: one "
                                     "step's states x max_steps)."))
    state_seed: int | None = field(default=None, metadata=_help("Seed of the state sampler (default: seed)."))
    system_prompt: str | None = field(default=None, metadata=_help("Optional system message."))
    on_policy_fraction: float = field(
        default=0.0, metadata=_help("Share of each step's states advanced by the policy's own moves."))
    on_policy_capacity: int = field(default=4096, metadata=_help("States kept for on-policy training."))

    # -- rewards ----------------------------------------------------------------------------------
    game_reward_mode: str = field(default="binary", metadata=_help("'binary' (+1/-1, paper) or 'score'."))
    strict_answer: bool = field(
        default=True, metadata=_help("The game reward counts only an answer in a closed <answer>...</answer> "
                                     "block: a bare reply or an unterminated block scores as unparsable (False: "
                                     "as the evaluation parser reads them)."))
    format_reward_weight: float = field(default=1.0, metadata=_help("Weight of the format reward (paper: 1)."))
    perception_reward_weight: float = field(
        default=0.0, metadata=_help("Weight of the perception reward (paper: 0; 0.1 in an ablation)."))

    # -- in-env evaluation and rollout log ------------------------------------------------------------
    # Cheap by default (a progress signal, not the paper's table: use `vlmgym eval` for that): all
    # runs of a game are one batched generate call per move.
    env_eval_every: int = field(default=100, metadata=_help("Evaluate in the envs every N steps (0: off)."))
    env_eval_at_end: bool = field(default=True, metadata=_help("Evaluate in the envs after training."))
    env_eval_runs: int = field(default=4, metadata=_help("Parallel games per env, batched (paper table: 10)."))
    env_eval_episode_steps: int = field(default=20, metadata=_help("Moves per game (paper table: 100)."))
    env_eval_max_new_tokens: int | None = field(
        default=512, metadata=_help("Answer budget per evaluation move (None: max_completion_length)."))
    env_eval_temperature: float = field(default=0.0, metadata=_help("0: greedy evaluation answers."))
    rollout_log: bool = field(default=True, metadata=_help("Write <output_dir>/rollouts/rollouts.jsonl."))


    def __post_init__(self) -> None:
        self._check_vlmgym_fields()
        if self.states_per_step is not None:
            self._derive_batches()
        super().__post_init__()
        choose_load_dtype(self)
        if self.remove_unused_columns is not False:
            raise ValueError("remove_unused_columns must be False: the rewards read the state columns")
        if self.states_per_step is not None and self.states_per_generation != self.states_per_step:
            raise ValueError(
                f"states_per_step={self.states_per_step} but a generation batch holds {self.states_per_generation} "
                f"states with {self.world_size} processes (WORLD_SIZE={os.environ.get('WORLD_SIZE')}); launch "
                "with accelerate/torchrun, or set states_per_step=None")

    def _check_vlmgym_fields(self) -> None:
        if isinstance(self.env_ids, str):
            self.env_ids = [self.env_ids]
        if not self.env_ids:
            raise ValueError("env_ids must name at least one registered env id")
        unknown = [e for e in self.env_ids if not vlmgym.is_vlmgym_id(e)]
        if unknown:
            raise ValueError(f"unknown env ids {unknown}; registered ids: {vlmgym.registered_ids(include_user=True)}")
        if self.env_weights is not None and len(self.env_weights) != len(self.env_ids):
            raise ValueError(f"env_weights has {len(self.env_weights)} values for {len(self.env_ids)} env ids")
        if isinstance(self.env_kwargs, str):
            try:
                self.env_kwargs = json.loads(self.env_kwargs)
            except json.JSONDecodeError as exc:
                raise ValueError(f"env_kwargs must be a JSON object: {exc}") from None
        if self.env_kwargs is not None and not isinstance(self.env_kwargs, dict):
            raise ValueError(f"env_kwargs must be a JSON object, got {type(self.env_kwargs).__name__}")
        if self.game_reward_mode not in ("binary", "score"):
            raise ValueError(f"game_reward_mode must be 'binary' or 'score', got {self.game_reward_mode!r}")
        if not 0.0 <= float(self.on_policy_fraction) <= 1.0:
            raise ValueError(f"on_policy_fraction must be in [0, 1], got {self.on_policy_fraction}")
        if self.on_policy_fraction > 0 and not self.stream_states:
            raise ValueError("on_policy_fraction > 0 needs stream_states=True (a fixed dataset cannot grow)")
        for name in ("format_reward_weight", "perception_reward_weight"):
            if not math.isfinite(float(getattr(self, name))):
                raise ValueError(f"{name} must be finite")
        for name in ("states_per_step", "num_states"):
            v = getattr(self, name)
            if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < 1):
                raise ValueError(f"{name} must be a positive integer or None, got {v!r}")
        self.game_specs()  # validates kwargs and obs_mode with clear messages

    def _derive_batches(self) -> None:
        assert self.states_per_step is not None
        world = int(os.environ.get("WORLD_SIZE", "1"))
        num_gen = int(self.num_generations or 0)
        completions = self.states_per_step * num_gen
        per_micro = self.per_device_train_batch_size * world
        if completions % per_micro:
            raise ValueError(
                f"states_per_step x num_generations = {completions} completions per step is not a multiple of "
                f"per_device_train_batch_size x processes = {per_micro}; change one of them, or set "
                "states_per_step=None and size batches with gradient_accumulation_steps/steps_per_generation")
        ga = completions // per_micro
        if self.gradient_accumulation_steps not in (1, ga):
            raise ValueError(f"gradient_accumulation_steps={self.gradient_accumulation_steps} conflicts with "
                             f"states_per_step={self.states_per_step} (needs {ga}); set states_per_step=None "
                             "to choose it yourself")
        if self.generation_batch_size not in (None, completions) or self.steps_per_generation not in (None, ga):
            raise ValueError("generation_batch_size/steps_per_generation conflict with states_per_step; set "
                             "states_per_step=None to choose them yourself")
        self.gradient_accumulation_steps = ga
        self.steps_per_generation = ga
        self.generation_batch_size = None

    def game_specs(self) -> list[GameSpec]:
        """The training games as :class:`~vlmgym_rl.states.GameSpec` (weights, kwargs, K)."""
        kwargs: dict[str, Any] = self.env_kwargs if isinstance(self.env_kwargs, dict) else {}
        per_id = bool(kwargs) and all(vlmgym.is_vlmgym_id(k) for k in kwargs)
        weights = self.env_weights or [1.0] * len(self.env_ids)
        specs = []
        for env_id, w in zip(self.env_ids, weights):
            kw = kwargs.get(env_id, {}) if per_id else kwargs
            specs.append(GameSpec(env_id, kw, weight=float(w), k=self.sampler_k, obs_mode=self.obs_mode))
        return specs

    @property
    def states_per_generation(self) -> int:
        """States in one generation batch (all processes): the stream's chunk size."""
        return int(self.generation_batch_size or 0) // int(self.num_generations or 1)


# -- processor and dataset checks -------------------------------------------------------------------
def processor_from_spec(spec: str | None, model: str) -> Any:
    """The processor a command line names (``--processor``), checked by :func:`load_processor`.

    * ``None``: the model's own (``AutoProcessor.from_pretrained(model)``);
    * ``module:attr`` or ``path/to/file.py:attr`` (when no such file or folder exists): a processor
      class (``attr.from_pretrained(model)``), a loader function (``attr(model)``) or a processor
      object; for processors that ``AutoProcessor`` cannot build, e.g. an image-only Qwen2.5-VL
      processor on a machine without torchvision (the tests' ``tiny_vlm:load_tiny_processor``);
    * anything else: a processor id or path for ``AutoProcessor``.
    """
    if spec is None:
        return load_processor(model)
    if ":" in spec and "://" not in spec and not os.path.exists(spec):
        from transformers import ProcessorMixin

        from vlmgym.plugins import load_attr

        obj = load_attr(spec, "processor")
        if hasattr(obj, "from_pretrained"):
            obj = obj.from_pretrained(model)
        elif callable(obj) and not isinstance(obj, ProcessorMixin):
            obj = obj(model)
        return load_processor(model, obj)
    return load_processor(spec)


def load_processor(model: Any, processor: Any = None) -> Any:
    """The model's processor, checked to be a vision-language one (clear error otherwise)."""
    from transformers import ProcessorMixin

    name = model if isinstance(model, str) else getattr(getattr(model, "config", None), "name_or_path", "")
    if processor is None:
        if not name:
            raise ValueError("an in-memory model has no path to load its processor from; pass processor=...")
        from transformers import AutoProcessor

        try:
            processor = AutoProcessor.from_pretrained(name, padding_side="left")
        except (OSError, ValueError, ImportError) as exc:
            hint = ""
            if "video" in str(exc).lower() or "torchvision" in str(exc).lower():
                hint = (" (Qwen2.5-VL's processor includes a video processor that needs torchvision: install "
                        "the torchvision build matching your torch, or vlmgym[rl,vllm], which brings it)")
            raise ValueError(f"cannot load a processor for {name!r}: {exc}{hint}") from exc
    if not isinstance(processor, ProcessorMixin) or getattr(processor, "image_processor", None) is None:
        raise ValueError(
            f"{name or 'the model'} has no image processor (got {type(processor).__name__}): vlmgym_rl trains "
            "vision-language models such as Qwen/Qwen2.5-VL-7B-Instruct, whose AutoProcessor handles images")
    tokenizer = getattr(processor, "tokenizer", None)
    if tokenizer is None:
        raise ValueError(f"the processor {type(processor).__name__} has no tokenizer")
    if not (getattr(processor, "chat_template", None) or getattr(tokenizer, "chat_template", None)):
        raise ValueError(f"the processor of {name or 'the model'} has no chat template; the prompts are "
                         "conversations")
    return processor


def validate_state_dataset(dataset: Any, reward_mode: str = "binary") -> None:
    """Raise before training if ``dataset`` lacks the columns or holds unusable states or env ids."""
    from datasets import Dataset, IterableDataset

    from vlmgym_rl.rewards import GameReward

    if isinstance(dataset, Dataset):
        missing = [c for c in REQUIRED_COLUMNS if c not in dataset.column_names]
        if missing:
            raise ValueError(f"the training dataset lacks columns {missing} (has {dataset.column_names}); "
                             "build it with vlmgym_rl.states.build_state_dataset or stream_state_dataset")
        if len(dataset) == 0:
            raise ValueError("the training dataset is empty")
        checker = GameReward(reward_mode)
        configs = dataset.select_columns(["env_id", "env_kwargs", "state"])
        seen: set[tuple[str, str]] = set()
        for i, (env_id, kw) in enumerate(zip(configs["env_id"], configs["env_kwargs"])):
            if (env_id, kw) not in seen:
                seen.add((env_id, kw))
                _check_row(checker, configs[i], i)
    elif isinstance(dataset, IterableDataset):
        try:
            row = next(iter(dataset))
        except StopIteration:
            raise ValueError("the training stream is empty") from None
        missing = [c for c in REQUIRED_COLUMNS if c not in row]
        if missing:
            raise ValueError(f"the training stream's rows lack columns {missing} (have {sorted(row)})")
        _check_row(GameReward(reward_mode), row, 0)
    else:
        raise TypeError(f"train_dataset must be a datasets.Dataset or IterableDataset, got {type(dataset).__name__}")


def _check_row(checker: Any, row: dict[str, Any], i: int) -> None:
    try:
        checker.check_row(row)
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"row {i} of the training dataset cannot be scored: {exc}") from exc


# -- trainer ------------------------------------------------------------------------------------
def build_g0_trainer(model: Any, config: G0Config | None = None, *, processor: Any = None,
                     train_dataset: Any = None, peft_config: Any = None, callbacks: list[Any] | None = None,
                     **trainer_kwargs: Any) -> Any:
    """A ready ``GRPOTrainer`` for the G0 recipe, with every input checked first.

    Args:
        model: a model id or path (loaded by TRL with ``config.model_init_kwargs``), or a model.
            With ``beta > 0`` and no LoRA the reference policy is loaded from the model's path, so an
            in-memory model must have been loaded from (or saved to) a path.
        config: a :class:`G0Config` (default: the paper's recipe).
        processor: the model's processor (default: ``AutoProcessor.from_pretrained(model)``).
        train_dataset: a state dataset (default: built from ``config``: a stream of fresh states,
            or a fixed dataset with ``stream_states=False``).
        peft_config: a ``peft.PeftConfig`` (default: LoRA from the config when ``use_lora``).
        callbacks: extra trainer callbacks.
        **trainer_kwargs: passed to ``GRPOTrainer`` (e.g. ``rollout_func``).
    """
    from trl import GRPOTrainer

    from vlmgym_rl.callback import VLMGymCallback
    from vlmgym_rl.rewards import g0_rewards
    from vlmgym_rl.states import OnPolicyPool, build_state_dataset, stream_state_dataset

    config = config if config is not None else G0Config()
    if not isinstance(config, G0Config):
        raise TypeError(f"config must be a G0Config, got {type(config).__name__}")
    processor = apply_pixel_bounds(load_processor(model, processor), config.min_pixels, config.max_pixels)
    if not isinstance(model, str):
        if not hasattr(model, "generate") or not hasattr(model, "config"):
            raise TypeError(f"model must be a model id/path or a transformers model, got {type(model).__name__}")
        lora = config.use_lora or peft_config is not None
        if config.beta != 0.0 and not lora and not getattr(model.config, "name_or_path", ""):
            raise ValueError("beta > 0 needs the initial policy as reference, which TRL loads from the model's "
                             "path; load the model from a path (or save it) first, or pass the path instead")
    specs = config.game_specs()
    seed = config.seed if config.state_seed is None else config.state_seed
    pool = None
    if config.on_policy_fraction > 0:
        pool = OnPolicyPool(config.on_policy_fraction, capacity=config.on_policy_capacity)
    if train_dataset is None:
        if config.stream_states:
            train_dataset = stream_state_dataset(specs, seed=seed, chunk_size=config.states_per_generation,
                                                 system_prompt=config.system_prompt, on_policy=pool)
        else:
            n = config.num_states or config.states_per_generation * max(1, config.max_steps)
            train_dataset = build_state_dataset(specs, n, seed=seed, system_prompt=config.system_prompt)
    else:
        if pool is not None:
            raise ValueError("on_policy_fraction > 0 builds its own stream; pass train_dataset=None, or build "
                             "stream_state_dataset(..., on_policy=pool) and GameReward(on_policy=pool) yourself")
        validate_state_dataset(train_dataset, config.game_reward_mode)
    funcs, weights = g0_rewards(format_weight=config.format_reward_weight,
                                perception_weight=config.perception_reward_weight,
                                reward_mode=config.game_reward_mode, strict=config.strict_answer, on_policy=pool)
    if config.reward_weights is None:
        config.reward_weights = weights
    elif len(config.reward_weights) != len(funcs):
        raise ValueError(f"reward_weights needs {len(funcs)} values (game, format, perception), got "
                         f"{config.reward_weights}")
    if peft_config is None:
        peft_config = config.lora_config()
    trainer = GRPOTrainer(model=model, reward_funcs=list(funcs), args=config, train_dataset=train_dataset,
                          processing_class=processor, peft_config=peft_config, callbacks=callbacks,
                          **trainer_kwargs)
    trainer.add_callback(VLMGymCallback(
        trainer, games=specs, eval_every=config.env_eval_every, eval_at_end=config.env_eval_at_end,
        eval_runs=config.env_eval_runs, eval_episode_steps=config.env_eval_episode_steps,
        eval_max_new_tokens=config.env_eval_max_new_tokens, eval_temperature=config.env_eval_temperature,
        rollout_log=config.rollout_log))
    return trainer


def train_g0(model: Any, config: G0Config | None = None, *, resume_from_checkpoint: str | bool | None = None,
             save: bool = True, **kwargs: Any) -> Any:
    """Build the G0 trainer (see :func:`build_g0_trainer`), train, save to ``output_dir``; return it."""
    return run_g0(build_g0_trainer(model, config, **kwargs), resume_from_checkpoint=resume_from_checkpoint,
                  save=save)


def resolve_checkpoint(resume: str | bool | None, output_dir: str | os.PathLike[str]) -> str | bool | None:
    """``"last"`` -> the newest checkpoint in ``output_dir``, or ``None`` when there is none yet.

    So one command line both starts a run and continues it after an interruption.
    """
    if resume != "last":
        return resume
    from transformers.trainer_utils import get_last_checkpoint

    return get_last_checkpoint(str(output_dir)) if Path(output_dir).is_dir() else None


def prepare_resume(trainer: Any, resume_from_checkpoint: str | bool | None) -> None:
    """Tell :class:`VLMGymCallback` which checkpoint a run resumes from (it restores what the
    Trainer's own resume misses; see callback.py)."""
    from vlmgym_rl.callback import VLMGymCallback

    if isinstance(resume_from_checkpoint, str):
        for cb in trainer.callback_handler.callbacks:
            if isinstance(cb, VLMGymCallback):
                cb.resume_checkpoint = resume_from_checkpoint


def run_g0(trainer: Any, *, resume_from_checkpoint: str | bool | None = None, save: bool = True) -> Any:
    """Train a trainer from :func:`build_g0_trainer` and save model and processor to ``output_dir``."""
    prepare_resume(trainer, resume_from_checkpoint)
    trainer.train(resume_from_checkpoint=resume_from_checkpoint)
    if save:
        trainer.save_model(trainer.args.output_dir)
        if trainer.accelerator.is_main_process:
            trainer.processing_class.save_pretrained(trainer.args.output_dir)
    return trainer
