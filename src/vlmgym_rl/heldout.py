"""Held-out evaluation of single decisions: a model's greedy answers on a fixed set of states,
next to the random, random-legal and best-move baselines on the very same states.

This is the measurement of :mod:`benchmarks/bench_learning.py` and of the learning test, and a
cheap check for any checkpoint (``HeldOut(...).evaluate(model, processor)``)::

    from vlmgym_rl.heldout import HeldOut, mcnemar

    held = HeldOut(["VLMGym/2048-v0"], 256, seed=10_000, env_kwargs={"size": 3}, obs_mode="image+text")
    print(held.baselines())                      # {'random': ..., 'random_legal': ..., 'best': ...}
    before = held.evaluate(model, processor)      # HeldOutResult: success, format, perception, ...
    ...                                           # train
    after = held.evaluate(model, processor)
    print(after.success_rate - before.success_rate, mcnemar(before.success, after.success))

States come from the G0 sampler (:class:`~vlmgym_rl.states.StateSampler`: reset, K random
moves) with a seed of their own, so they are disjoint in distribution only by chance, never by
construction; use a seed far from the training seed (the paper's sampler draws fresh states each
step, so overlap is rare on real boards and measured by :attr:`HeldOut.state_ids`).

The baselines are exact expectations, not samples: each state's every index action is scored by
the environment, so ``random`` is the mean success of a uniformly random action, ``random_legal``
of a uniformly random legal one and ``best`` the share of states where some action succeeds (the
ceiling of a single decision; the built-in solver can pick a lower-scoring move when it plans
ahead, as 2048's expectimax does).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
import numpy as np

import vlmgym
from vlmgym.core.answer import format_ok, perception_cell_accuracy, perception_exact
from vlmgym_rl.states import GamesLike, StateSampler, as_game_specs

__all__ = ["HeldOut", "HeldOutResult", "mcnemar"]


@dataclass
class HeldOutResult:
    """Per-state outcomes of one evaluation (arrays in the order of :attr:`HeldOut.rows`)."""

    success: np.ndarray          # bool: the answer's move succeeded (game reward > 0)
    valid: np.ndarray            # bool: the answer parsed to a legal move
    format: np.ndarray           # bool: all six tags of the paper's format
    perception: np.ndarray       # bool: the exact board text in <perception>
    cell_accuracy: np.ndarray    # float: per-cell perception accuracy
    texts: list[str] = field(repr=False, default_factory=list)

    def _mean(self, a: np.ndarray) -> float:
        return float(np.mean(a)) if len(a) else float("nan")

    @property
    def success_rate(self) -> float:
        return self._mean(self.success)

    def summary(self) -> dict[str, float]:
        """Rates over the held-out states."""
        return {"success": self._mean(self.success), "valid": self._mean(self.valid),
                "format": self._mean(self.format), "perception_exact": self._mean(self.perception),
                "perception_cell_acc": self._mean(self.cell_accuracy)}


class HeldOut:
    """A fixed set of sampled states of one or more games, with their exact baselines.

    Args:
        games: env ids (or :class:`~vlmgym_rl.states.GameSpec`), as for G0.
        num_states: states per game.
        seed: the sampler's seed (keep it away from the training seed).
        env_kwargs: kwargs for every game (or use ``GameSpec`` objects).
        k: random moves after reset (default: the game's paper K).
        obs_mode: ``"image"`` or ``"image+text"`` (the prompt then also holds the board text).
        system_prompt: as in training.
    """

    def __init__(self, games: GamesLike, num_states: int, *, seed: int, env_kwargs: dict[str, Any] | None = None,
                 k: int | None = None, obs_mode: str | None = None, system_prompt: str | None = None):
        specs = as_game_specs(games, env_kwargs=env_kwargs)
        if k is not None or obs_mode is not None:
            from dataclasses import replace

            specs = [replace(s, k=s.k if k is None else k, obs_mode=s.obs_mode if obs_mode is None else obs_mode)
                     for s in specs]
        if isinstance(num_states, bool) or not isinstance(num_states, int) or num_states < 1:
            raise ValueError(f"num_states must be a positive integer, got {num_states!r}")
        self.specs = specs
        sampler = StateSampler(specs, system_prompt=system_prompt)
        try:
            self.rows: list[dict[str, Any]] = []
            for i in range(len(specs)):
                self.rows += sampler.rows(i, sampler.sample(i, num_states, seed + 7919 * i))
        finally:
            sampler.close()
        self.states = [vlmgym.GameState.from_bytes(r["state"]) for r in self.rows]
        self.state_ids = [r["state_id"] for r in self.rows]
        self._envs: dict[tuple[str, str, str], Any] = {}
        self._action_success = self._score_all_actions()

    # -- scoring ------------------------------------------------------------------------------------
    def _env(self, env_id: str, kwargs_json: str, action_mode: str = "text") -> Any:
        key = (env_id, kwargs_json, action_mode)
        if key not in self._envs:
            self._envs[key] = gym.make_vec(env_id, num_envs=1, obs_mode="text", action_mode=action_mode,
                                           **json.loads(kwargs_json))
        return self._envs[key]

    def _groups(self) -> dict[tuple[str, str], list[int]]:
        groups: dict[tuple[str, str], list[int]] = {}
        for j, r in enumerate(self.rows):
            groups.setdefault((r["env_id"], r["env_kwargs"]), []).append(j)
        return groups

    def _score_all_actions(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per state: (success of every index action, legal mask)."""
        out: list[Any] = [None] * len(self.rows)
        for key, idx in self._groups().items():
            env = self._env(*key, action_mode="index")
            states = [self.states[j] for j in idx]
            legal = env.legal_masks(states)
            n = env.game.num_actions
            rep = [s for s in states for _ in range(n)]
            rewards, _ = env.score(rep, np.tile(np.arange(n), len(states)))
            ok = (np.asarray(rewards) > 0).reshape(len(states), n)
            for t, j in enumerate(idx):
                out[j] = (ok[t], legal[t])
        return out

    def baselines(self) -> dict[str, float]:
        """Exact expected success of ``random`` / ``random_legal`` actions, the ``best`` ceiling, and
        ``constant``: the success of the best single answer given to every state of a game (the same
        action index for all of them, chosen per game with hindsight). A policy that does not read
        the board can reach ``constant`` and no more, so a gain that stops there is not learning to
        play: it is learning the answer's marginal.
        """
        rnd = [float(ok.mean()) for ok, _ in self._action_success]
        legal = [float(ok[m].mean()) if m.any() else 0.0 for ok, m in self._action_success]
        best = [float(ok.any()) for ok, _ in self._action_success]
        constant = sum(float(np.stack([self._action_success[j][0] for j in idx]).mean(axis=0).max()) * len(idx)
                       for idx in self._groups().values()) / len(self.rows)
        return {"random": float(np.mean(rnd)), "random_legal": float(np.mean(legal)), "best": float(np.mean(best)),
                "constant": constant}

    def score_texts(self, texts: Sequence[str]) -> HeldOutResult:
        """Score one answer text per held-out state."""
        texts = list(texts)
        if len(texts) != len(self.rows):
            raise ValueError(f"got {len(texts)} answers for {len(self.rows)} held-out states")
        n = len(texts)
        success, valid = np.zeros(n, dtype=bool), np.zeros(n, dtype=bool)
        for key, idx in self._groups().items():
            rewards, info = self._env(*key).score([self.states[j] for j in idx], [texts[j] for j in idx])
            status = np.asarray(info["action_status"])
            success[idx] = np.asarray(rewards) > 0
            valid[idx] = status == "ok"
        boards = [r["board_text"] for r in self.rows]
        return HeldOutResult(
            success=success, valid=valid,
            format=np.array([format_ok(t) for t in texts], dtype=bool),
            perception=np.array([perception_exact(t, b) for t, b in zip(texts, boards)], dtype=bool),
            cell_accuracy=np.array([perception_cell_accuracy(t, b) for t, b in zip(texts, boards)]),
            texts=texts)

    # -- a model's answers ------------------------------------------------------------------------
    def generate(self, model: Any, processor: Any, *, max_new_tokens: int = 128, batch_size: int = 64,
                 temperature: float = 0.0) -> list[str]:
        """The model's answers to every held-out prompt (greedy unless ``temperature > 0``)."""
        import torch
        from trl.data_utils import prepare_multimodal_messages

        tokenizer = getattr(processor, "tokenizer", processor)
        gen: dict[str, Any] = {"max_new_tokens": int(max_new_tokens), "pad_token_id": tokenizer.pad_token_id}
        gen.update(do_sample=True, temperature=temperature, top_p=1.0, top_k=0) if temperature > 0 \
            else gen.update(do_sample=False)
        device = next(model.parameters()).device
        texts: list[str] = []
        was_training = model.training
        model.eval()
        side = tokenizer.padding_side
        tokenizer.padding_side = "left"
        try:
            for start in range(0, len(self.rows), batch_size):
                rows = self.rows[start:start + batch_size]
                convs = [prepare_multimodal_messages(r["prompt"], images=[r["image"]]) for r in rows]
                chats = [processor.apply_chat_template(c, tokenize=False, add_generation_prompt=True) for c in convs]
                inputs = processor(text=chats, images=[r["image"] for r in rows], padding=True, return_tensors="pt")
                inputs = {k: v.to(device) if hasattr(v, "to") else v for k, v in inputs.items()}
                with torch.no_grad():
                    out = model.generate(**inputs, **gen)
                texts += tokenizer.batch_decode(out[:, inputs["input_ids"].shape[1]:], skip_special_tokens=True)
        finally:
            tokenizer.padding_side = side
            model.train(was_training)
        return texts

    def evaluate(self, model: Any, processor: Any, **generate_kwargs: Any) -> HeldOutResult:
        """Generate (see :meth:`generate`) and score."""
        return self.score_texts(self.generate(model, processor, **generate_kwargs))

    def close(self) -> None:
        for env in self._envs.values():
            env.close()
        self._envs.clear()


def mcnemar(before: Sequence[bool], after: Sequence[bool]) -> float:
    """Two-sided exact McNemar p-value for paired binary outcomes (same states, two policies).

    Only discordant states count: ``b`` = success before but not after, ``c`` = after but not
    before; under "no difference" each discordant state is a fair coin, so the p-value is the
    two-sided binomial tail of ``min(b, c)`` in ``b + c`` trials. 1.0 when nothing differs.
    """
    a, z = np.asarray(before, dtype=bool), np.asarray(after, dtype=bool)
    if a.shape != z.shape:
        raise ValueError(f"paired outcomes differ in shape: {a.shape} vs {z.shape}")
    b, c = int(np.sum(a & ~z)), int(np.sum(~a & z))
    n = b + c
    if n == 0:
        return 1.0
    k = min(b, c)
    tail = sum(math.comb(n, i) for i in range(k + 1)) / 2.0 ** n
    return float(min(1.0, 2.0 * tail))
