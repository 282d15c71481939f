"""``VLMGymCallback``: in-env evaluation of the policy during training, and a rollout log.

Give it the trainer (Transformers callbacks do not receive one)::

    trainer = GRPOTrainer(...)
    trainer.add_callback(VLMGymCallback(trainer, games=["VLMGym/2048-v0"], eval_every=50))

* **Evaluation** (every ``eval_every`` optimizer steps and at the end of training): the current
  policy plays ``eval_runs`` parallel games for ``eval_episode_steps`` sequential moves per game
  through the evaluation harness (:func:`vlmgym.eval.evaluate`, the paper's protocol: 2048 starts
  after 100 random moves and is measured by its summed merge score; tile games start fresh and
  count successful moves; finished or stuck boards are replaced and play goes on). The harness's
  folders go to ``<output_dir>/env_eval/step-<N>/<game>``. Runs are split over the processes and
  gathered. Metrics are logged through ``transformers.Trainer.log`` itself, so they land in
  ``trainer.state.log_history`` and reach every tracker (``report_to``) -- editing ``logs`` in
  ``on_log`` reaches neither. Names: ``vlmgym_eval/<game>/<m>`` for ``m`` in
  :data:`EVAL_METRICS` (``metric`` is the protocol's metric) and ``reasoning_accuracy``.
* **Rollout log** (``<output_dir>/rollouts/rollouts.jsonl``, other processes write
  ``rollouts.rank<k>.jsonl``): one JSON line per training completion with the step, state id,
  env, completion text, action status, parsed action and the reward parts (game, format,
  perception); each state's picture is saved once as ``images/<state_id>.png``. Records come from
  the :class:`~vlmgym_rl.rewards.GameReward` among the trainer's reward functions.
"""

from __future__ import annotations

import json
import logging
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from transformers import Trainer, TrainerCallback

import vlmgym
from vlmgym.eval import PROTOCOLS, EvalConfig, Policy, evaluate
from vlmgym_rl.rewards import GameReward
from vlmgym_rl.states import GamesLike, GameSpec, as_game_specs

__all__ = ["EVAL_METRICS", "VLMGymCallback", "evaluate_policy"]

logger = logging.getLogger(__name__)

#: Metrics of the evaluation harness's summary that are logged (per-run means):
#: ``metric`` is the protocol's own (2048: summed merge score; tile games: successful moves).
EVAL_METRICS = ("metric", "successes", "score_gain", "success_rate", "perception_exact_rate",
                "perception_cell_accuracy", "format_rate", "unparsable", "illegal")


class _GeneratePolicy(Policy):
    """An evaluation-harness policy that answers a batch of queries with ``generate``."""

    def __init__(self, generate: Any, name: str):
        self.generate = generate
        self.name = name

    def __call__(self, queries: Sequence[Any]) -> list[Any]:
        prompts = [[{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": q.user_text()}]}]
                   for q in queries]
        answers = list(self.generate(prompts, [q.pil() for q in queries]))
        if len(answers) != len(queries) or not all(isinstance(a, str) for a in answers):
            raise TypeError("the evaluation generate() must return one string per prompt")
        return answers


def evaluate_policy(generate: Any, specs: Sequence[GameSpec], *, runs: int, steps: int, seed: int,
                    out: str | os.PathLike[str], start_moves: Mapping[str, int] | None = None,
                    name: str = "policy") -> dict[str, dict[str, list[float | None]]]:
    """Play every spec with ``generate`` through the evaluation harness (:mod:`vlmgym.eval`).

    ``generate(prompts: list[list[message]], images: list[PIL.Image]) -> list[str]`` answers a
    batch (the prompts are conversations with an image slot, as in the state datasets). With the
    paper's 10 runs x 100 moves the harness's ``paper`` protocol is used; otherwise the same
    warm-up (2048: 100 random moves, tile games: none) with ``runs`` x ``steps``. The harness writes
    its usual folder per game under ``out/<game>``. Returns per game key the per-run values of
    :data:`EVAL_METRICS` plus ``reasoning_accuracy`` (pooled, as a one-element list).
    """
    results: dict[str, dict[str, list[float | None]]] = {}
    for spec in specs:
        game = gym.spec(spec.env_id).kwargs.get("game", "")
        paper = PROTOCOLS["paper"]
        custom = (runs, steps) != (paper.runs, paper.steps) or bool(start_moves and spec.env_id in start_moves)
        warmup = None
        if custom:
            warmup = int((start_moves or {}).get(spec.env_id, vlmgym.game_class(game).paper_warmup_steps))
        config = EvalConfig(
            env_ids=[spec.env_id], runs=runs, steps=steps, protocol="custom" if custom else "paper",
            warmup_steps=warmup, seed=int(seed), env_kwargs={**spec.env_kwargs, "obs_mode": spec.obs_mode},
            out=str(_fresh_dir(Path(out) / spec.key)), video=False, curves=False, progress=False)
        summary = evaluate(config, policy=_GeneratePolicy(generate, name)).summary
        game_summary = summary["games"][spec.env_id]
        per_run = {k: list(game_summary["per_run"][k]) for k in EVAL_METRICS}
        per_run["reasoning_accuracy"] = [game_summary["pooled"]["reasoning_accuracy"]]
        results[spec.key] = per_run
    return results


def _checkpoint_keys(ckpt: Path) -> set[str] | None:
    """Tensor names of a saved full model (safetensors, single file or sharded), or ``None``."""
    single = ckpt / "model.safetensors"
    index = ckpt / "model.safetensors.index.json"
    if single.is_file():
        from safetensors import safe_open

        with safe_open(str(single), framework="pt") as fh:
            return set(fh.keys())
    if index.is_file():
        return set(json.loads(index.read_text())["weight_map"])
    return None


def _fresh_dir(path: Path) -> Path:
    """``path``, or ``path-2``, ``path-3``... when it already holds results (e.g. after a resume)."""
    candidate, i = path, 1
    while candidate.exists() and any(candidate.iterdir()):
        i += 1
        candidate = path.with_name(f"{path.name}-{i}")
    return candidate


class VLMGymCallback(TrainerCallback):
    """Periodic in-env evaluation and a rollout log for a ``GRPOTrainer`` (see the module doc).

    Args:
        trainer: the trainer (required: hooks do not receive it).
        games: games to evaluate on (ids, :class:`GameSpec` or ``{id: weight}``).
        eval_every: evaluate every this many optimizer steps (0: never during training).
        eval_at_end: also evaluate when training ends.
        eval_runs: parallel games per game (the paper: 10).
        eval_episode_steps: sequential moves per game (the paper: 100).
        eval_max_new_tokens: answer budget per move (default: the trainer's max_completion_length).
        eval_temperature: 0 for greedy answers, else sampling at this temperature.
        eval_seed: seed of the evaluation boards (the same boards every time).
        start_moves: ``{env_id: K}`` random moves before play (default: 100 for 2048, else 0).
        rollout_log: write the rollout log.
        rollout_dir: where (default ``<output_dir>/rollouts``).
    """

    def __init__(self, trainer: Any, *, games: GamesLike | None = None, eval_every: int = 0,
                 eval_at_end: bool = True, eval_runs: int = 10, eval_episode_steps: int = 100,
                 eval_max_new_tokens: int | None = None, eval_temperature: float = 0.0,
                 eval_seed: int = 1234, start_moves: Mapping[str, int] | None = None,
                 rollout_log: bool = True, rollout_dir: str | os.PathLike[str] | None = None):
        if trainer is None or not hasattr(trainer, "accelerator"):
            raise TypeError("VLMGymCallback needs the trainer: VLMGymCallback(trainer, ...)")
        for name, v, lo in (("eval_every", eval_every, 0), ("eval_runs", eval_runs, 1),
                            ("eval_episode_steps", eval_episode_steps, 1)):
            if isinstance(v, bool) or not isinstance(v, int) or v < lo:
                raise ValueError(f"{name} must be an integer >= {lo}, got {v!r}")
        if eval_max_new_tokens is not None and (not isinstance(eval_max_new_tokens, int) or eval_max_new_tokens < 1):
            raise ValueError(f"eval_max_new_tokens must be a positive integer or None, got {eval_max_new_tokens!r}")
        if not isinstance(eval_temperature, (int, float)) or eval_temperature < 0 or not math.isfinite(eval_temperature):
            raise ValueError(f"eval_temperature must be >= 0, got {eval_temperature!r}")
        self.trainer = trainer
        self.specs = as_game_specs(games) if games is not None else []
        if (eval_every or eval_at_end) and not self.specs:
            raise ValueError("give games=... to evaluate on (or eval_every=0, eval_at_end=False)")
        self.eval_every = eval_every
        self.eval_at_end = eval_at_end
        self.eval_runs = eval_runs
        self.eval_episode_steps = eval_episode_steps
        self.eval_max_new_tokens = eval_max_new_tokens
        self.eval_temperature = float(eval_temperature)
        self.eval_seed = int(eval_seed)
        self.start_moves = dict(start_moves or {})
        self.rollout_log = rollout_log
        self.rollout_dir = Path(rollout_dir) if rollout_dir is not None else Path(trainer.args.output_dir) / "rollouts"
        self._saved_images: set[str] = set()
        #: the checkpoint a resumed run starts from (default: ``<output_dir>/checkpoint-<step>``)
        self.resume_checkpoint: str | None = None
        self._last_eval_step = -1
        self.history: list[dict[str, float]] = []  # every evaluation's metrics, in order
        self._game_rewards = [f for f in getattr(trainer, "reward_funcs", []) if isinstance(f, GameReward)]
        if rollout_log:
            if not self._game_rewards:
                raise ValueError("the rollout log needs a vlmgym_rl.rewards.GameReward among the trainer's "
                                 "reward functions (or pass rollout_log=False)")
            for f in self._game_rewards:
                f.add_listener(self._record)

    # -- rollout log ---------------------------------------------------------------------------
    def _rollout_file(self) -> Path:
        rank = int(getattr(self.trainer.args, "process_index", 0))
        return self.rollout_dir / ("rollouts.jsonl" if rank == 0 else f"rollouts.rank{rank}.jsonl")

    def _record(self, records: list[dict[str, Any]], trainer_state: Any) -> None:
        if not records:
            return
        mode = "train" if getattr(self.trainer.model, "training", True) else "eval"
        step = (int(trainer_state.global_step) if trainer_state is not None else 0) + (mode == "train")
        images = self.rollout_dir / "images"
        images.mkdir(parents=True, exist_ok=True)
        lines = []
        for r in records:
            sid = r["state_id"]
            image = r.pop("image", None)
            if sid is not None and sid not in self._saved_images:
                path = images / f"{sid}.png"
                if image is not None and hasattr(image, "save") and not path.exists():
                    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")  # processes may share states
                    image.save(tmp, format="PNG")
                    os.replace(tmp, path)
                self._saved_images.add(sid)
            row = {"step": step, "mode": mode, **r,
                   "image": f"images/{sid}.png" if sid is not None else None}
            lines.append(json.dumps(row, default=str))
        with open(self._rollout_file(), "a", encoding="utf-8") as fh:
            fh.write("\n".join(lines) + "\n")

    # -- evaluation ----------------------------------------------------------------------------
    def _generate_fn(self) -> Any:
        import torch
        from trl.models import unwrap_model_for_generation

        trainer = self.trainer
        processor = trainer.processing_class
        tokenizer = getattr(processor, "tokenizer", processor)
        max_new = self.eval_max_new_tokens or int(trainer.args.max_completion_length or 1024)
        gen_kwargs: dict[str, Any] = {"max_new_tokens": max_new, "pad_token_id": tokenizer.pad_token_id}
        if self.eval_temperature > 0:
            gen_kwargs.update(do_sample=True, temperature=self.eval_temperature, top_p=1.0, top_k=0)
        else:
            gen_kwargs.update(do_sample=False)

        def generate(prompts: list[Any], images: list[Any]) -> list[str]:
            from trl.data_utils import prepare_multimodal_messages

            convs = [prepare_multimodal_messages(p, images=[im]) for p, im in zip(prompts, images)]
            texts = [processor.apply_chat_template(c, tokenize=False, add_generation_prompt=True) for c in convs]
            side = tokenizer.padding_side
            tokenizer.padding_side = "left"  # batched generation continues every prompt at its end
            try:
                inputs = processor(text=texts, images=list(images), padding=True, return_tensors="pt")
            finally:
                tokenizer.padding_side = side
            inputs = {k: v.to(trainer.accelerator.device) if hasattr(v, "to") else v for k, v in inputs.items()}
            with unwrap_model_for_generation(
                    trainer.model_wrapped, trainer.accelerator,
                    gather_deepspeed3_params=trainer.args.ds3_gather_for_generation) as model, torch.no_grad():
                was_training = model.training
                model.eval()  # no gradient checkpointing, KV cache on
                try:
                    out = model.generate(**inputs, **gen_kwargs)
                finally:
                    model.train(was_training)
            new = out[:, inputs["input_ids"].shape[1]:]
            return tokenizer.batch_decode(new, skip_special_tokens=True)

        return generate

    def evaluate(self) -> dict[str, float]:
        """Run the in-env evaluation now and log the metrics; returns them."""
        from accelerate.utils import gather_object

        trainer = self.trainer
        world = int(trainer.accelerator.num_processes)
        rank = int(trainer.accelerator.process_index)
        step = int(trainer.state.global_step)
        local_runs = -(-self.eval_runs // world)  # every process plays the same number of moves
        out = Path(trainer.args.output_dir) / "env_eval" / f"step-{step:06d}"
        if world > 1:
            out = out / f"rank-{rank}"
        results = evaluate_policy(self._generate_fn(), self.specs, runs=local_runs,
                                  steps=self.eval_episode_steps, seed=self.eval_seed + 7919 * rank,
                                  out=out, start_moves=self.start_moves or None, name=f"trainer-step-{step}")
        gathered = gather_object([results]) if world > 1 else [results]
        metrics: dict[str, float] = {}
        for spec in self.specs:
            for name in (*EVAL_METRICS, "reasoning_accuracy"):
                values = [v for g in gathered for v in g[spec.key][name] if v is not None]
                if name != "reasoning_accuracy":
                    values = values[: self.eval_runs]
                if values:
                    metrics[f"vlmgym_eval/{spec.key}/{name}"] = float(np.mean(values))
        # Trainer.log (not GRPOTrainer.log, which would also flush and clear the GRPO metrics
        # collected for the current logging window) appends to state.log_history and calls every
        # callback's on_log, trackers included. on_log clears control.should_log, which would drop
        # the regular log of this step: keep the flag as it was.
        should_log = trainer.control.should_log
        Trainer.log(trainer, dict(metrics))
        trainer.control.should_log = should_log
        self.history.append({"step": float(trainer.state.global_step), **metrics})
        self._last_eval_step = int(trainer.state.global_step)
        return metrics

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self.eval_every and state.global_step > 0 and state.global_step % self.eval_every == 0:
            self.evaluate()

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self.rollout_log:
            for f in self._game_rewards:
                f.add_listener(self._record)
        if state.global_step > 0:  # resumed: the TrainerState came from a checkpoint
            self._restore_resumed_weights(args, state)

    # -- resume ----------------------------------------------------------------------------------
    def _restore_resumed_weights(self, args: Any, state: Any) -> None:
        """Make sure a resumed run continues from the checkpoint's weights.

        Transformers saves models with a checkpoint conversion mapping (Qwen2.5-VL and other VLMs)
        under their original key names, but ``Trainer`` reloads a checkpoint with a plain
        non-strict ``load_state_dict``: no key matches, nothing is loaded, and training silently
        restarts from the initial weights (huggingface/transformers#43701). If the checkpoint's
        keys are not the model's, load it through ``from_pretrained`` (which converts) and copy the
        weights in. DeepSpeed, FSDP and PEFT adapters restore by parameter name and are left alone.
        """
        trainer = self.trainer
        if getattr(trainer, "is_deepspeed_enabled", False) or getattr(trainer, "is_fsdp_enabled", False):
            return
        model = trainer.accelerator.unwrap_model(trainer.model)
        if hasattr(model, "peft_config") or not hasattr(type(model), "from_pretrained"):
            return
        ckpt = Path(self.resume_checkpoint) if self.resume_checkpoint else (
            Path(args.output_dir) / f"checkpoint-{state.global_step}")
        keys = _checkpoint_keys(ckpt)
        if keys is None:
            logger.warning("resumed at step %d but found no model weights in %s to check; if the model was "
                           "not restored, pass the checkpoint as VLMGymCallback.resume_checkpoint",
                           state.global_step, ckpt)
            return
        own = set(model.state_dict())
        if keys == own:
            return
        param = next(model.parameters())
        loaded = type(model).from_pretrained(str(ckpt), dtype=param.dtype)
        result = model.load_state_dict(loaded.state_dict(), strict=False)
        del loaded
        if result.missing_keys:
            raise RuntimeError(f"cannot restore the weights of {ckpt}: missing {result.missing_keys[:5]}...")
        logger.warning("restored the model weights of %s through from_pretrained (Trainer's resume could not "
                       "match their key names, transformers#43701)", ckpt)

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self.eval_at_end and self.specs and self._last_eval_step != int(state.global_step):
            self.evaluate()
        for f in self._game_rewards:  # a later trainer may reuse the rewards with its own log
            f.remove_listener(self._record)
