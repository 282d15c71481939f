"""The policy interface of the evaluation harness, the built-in policies, and ``make_policy``.

A policy answers a *batch* of queries: one :class:`Query` per env (the board image and the
instruction), one answer text per query, in order::

    def my_policy(queries: list[Query]) -> list[str]:
        return ["<answer>0</answer>" for q in queries]

Return a :class:`Reply` instead of a ``str`` to report latency, request size or a failed request
(``Reply(text=None, error="...")``); the harness records failures as such and never skips them.
Subclass :class:`Policy` for a policy with configuration or resources to release.

Policy specs understood by :func:`make_policy` (and ``vlmgym eval --policy``):

``random``            uniform over the game's action space, written as a valid answer
``random-paper``      the G1 paper's random baseline: the original eval scripts' sampling
                      (any two cells from 0..7, drawn independently; a uniform 2048 direction)
``random-legal``      uniform over the legal moves (a stronger baseline)
``oracle``            a built-in solver per game (:mod:`vlmgym.eval.oracle`)
``openai:MODEL``      an OpenAI-compatible chat endpoint (``vllm serve``, OpenAI, ...)
``vllm:PATH``         offline batched generation with vLLM's ``LLM`` (needs ``vllm``)
``hf:PATH``           local generation with transformers (needs ``torch`` and ``transformers``)
``module:attr``       your own policy: a function ``queries -> answers`` or a :class:`Policy`
                      subclass (instantiated with the policy arguments); ``path/to/file.py:attr``
                      works too
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from vlmgym.core.actions import PairCodec
from vlmgym.eval.interface import (
    FunctionPolicy,
    GenerationConfig,
    Policy,
    PolicyError,
    Query,
    Reply,
    encode_png,
    query_seed,
    wrap_answer,
)
from vlmgym.plugins import load_attr

__all__ = ["BUILTIN_POLICIES", "FunctionPolicy", "GenerationConfig", "Policy", "PolicyError", "Query",
           "PaperRandomPolicy", "RandomPolicy", "Reply", "encode_png", "make_policy", "query_seed", "wrap_answer"]

#: Names accepted by :func:`make_policy` besides ``module:attr``.
BUILTIN_POLICIES = ("random", "random-paper", "random-legal", "oracle", "openai:MODEL", "vllm:PATH", "hf:PATH")


class RandomPolicy(Policy):
    """Uniform random moves, written as valid answers (``<answer>2</answer>``, ...).

    ``legal_only=False`` (``random``): uniform over the whole action space, like the paper's
    random baseline; on tile boards most such pairs are illegal. ``legal_only=True``
    (``random-legal``): uniform over the legal moves of the current state. Every draw comes from
    the query's own seed, so results do not depend on batching and survive ``--resume``.
    """

    def __init__(self, legal_only: bool = False):
        self.legal_only = bool(legal_only)
        self.name = "random-legal" if self.legal_only else "random"

    def __call__(self, queries: Sequence[Query]) -> list[str | Reply]:
        out: list[str | Reply] = []
        for q in queries:
            game = q.game
            rng = np.random.default_rng(q.seed)
            choices: np.ndarray | None = None
            if self.legal_only and q.state is not None:
                mask = q.env.legal_masks([q.state])[0]  # type: ignore[union-attr]
                choices = np.flatnonzero(mask)
            if choices is not None and len(choices):
                index = int(rng.choice(choices))
            else:
                index = int(rng.integers(game.num_actions))
            action = game.from_array(game.decode(np.array([index]))[0])
            out.append(wrap_answer(game.format_answer(action)))
        return out

    def config(self) -> dict[str, Any]:
        return {"name": self.name}


class PaperRandomPolicy(Policy):
    """The G1 paper's random baseline, sampled as its original evaluation scripts did.

    The original ``eval_shisensho.py``, ``eval_shisensho_cifar10.py`` and ``eval_swap.py``
    (chenllliang/G1, ``vlmgym/test/``) answer ``(r1, c1) (r2, c2)`` with two cells drawn
    independently and uniformly from a fixed 8 x 8 grid (``GRID_SIZE = 8``) whatever the board: on
    a 6 x 6 board many answers point off the board, on Swap most pairs are not adjacent, and a
    cell may be paired with itself. ``eval_2048.py`` answers a uniform direction 0..3, which is
    what :class:`RandomPolicy` does too (same draw, same results). ``--protocol paper`` uses this
    policy for ``--policy random`` so that the numbers compare with the paper's "Random" row.
    Draws come from the query's seed (independent of batching, reproducible under ``--resume``).
    """

    name = "random-paper"
    #: The coordinate range of the original scripts (0..GRID - 1 for every row and column).
    GRID = 8

    def __call__(self, queries: Sequence[Query]) -> list[str | Reply]:
        out: list[str | Reply] = []
        for q in queries:
            game = q.game
            rng = np.random.default_rng(q.seed)
            if isinstance(game.codec, PairCodec):  # two cells: four independent coordinates 0..GRID-1
                row = rng.integers(self.GRID, size=game.action_arity)
            else:  # a direction (and any other kind): uniform over the whole space, as the original
                row = game.decode(np.array([int(rng.integers(game.num_actions))]))[0]
            out.append(wrap_answer(game.format_answer(game.from_array(row))))
        return out


def make_policy(spec: str | Policy | Callable[..., Any], *, seed: int = 0,
                generation: GenerationConfig | None = None, **kwargs: Any) -> Policy:
    """Build a policy from a spec string (see the module docstring) or wrap a callable.

    Args:
        spec: ``random``, ``random-paper``, ``random-legal``, ``oracle``, ``openai:MODEL``, ``vllm:PATH``,
            ``hf:PATH``, ``module:attr``, a :class:`Policy`, or a callable.
        seed: base seed of the model policies' sampling (the built-in random policies draw
            from per-query seeds instead).
        generation: sampling settings for model policies.
        **kwargs: policy-specific options (e.g. ``base_url`` and ``concurrency`` for ``openai``,
            ``batch_size`` and ``device`` for ``hf``, ``LLM`` arguments for ``vllm``, constructor
            arguments of a :class:`Policy` subclass).
    """
    if isinstance(spec, Policy):
        if kwargs:
            raise PolicyError(f"policy options {sorted(kwargs)} given with a Policy instance")
        return spec
    if callable(spec) and not isinstance(spec, str):
        return FunctionPolicy(spec)
    if not isinstance(spec, str) or not spec:
        raise PolicyError(f"policy must be a spec string, a Policy or a callable; got {spec!r}")
    generation = generation or GenerationConfig()

    def no_options(name: str) -> None:
        if kwargs:
            raise PolicyError(f"policy {name!r} takes no options; got {sorted(kwargs)}")

    if spec in ("random", "random-legal"):
        no_options(spec)
        return RandomPolicy(legal_only=spec == "random-legal")
    if spec == "random-paper":
        no_options(spec)
        return PaperRandomPolicy()
    if spec == "oracle":
        from vlmgym.eval.oracle import OraclePolicy

        return OraclePolicy(**kwargs)
    kind, sep, rest = spec.partition(":")
    if sep and kind in ("openai", "vllm", "hf"):
        if not rest:
            raise PolicyError(f"policy {spec!r} needs a model after '{kind}:'")
        if kind == "openai":
            from vlmgym.eval.openai_client import OpenAIPolicy

            return OpenAIPolicy(rest, generation=generation, seed=seed, **kwargs)
        from vlmgym.eval.local import HFPolicy, VLLMPolicy

        cls = VLLMPolicy if kind == "vllm" else HFPolicy
        return cls(rest, generation=generation, seed=seed, **kwargs)
    if not sep:
        raise PolicyError(f"unknown policy {spec!r}; built-in policies: {', '.join(BUILTIN_POLICIES)}, "
                          "or module:function / path/to/file.py:function for your own")
    obj = load_attr(spec, "policy", PolicyError, hint=(
        f"Built-in policies: {', '.join(BUILTIN_POLICIES)}; or module:function / path/to/file.py:function"))
    if inspect.isclass(obj):
        if not issubclass(obj, Policy):
            raise PolicyError(f"policy {spec!r} is a class but not a vlmgym.eval.Policy subclass")
        try:
            policy = obj(**kwargs)
        except TypeError as exc:
            raise PolicyError(f"policy {spec!r}: {exc}") from None
        if getattr(policy, "name", "policy") == "policy":
            policy.name = spec
        return policy
    if isinstance(obj, Policy):
        no_options(spec)
        return obj
    if callable(obj):
        no_options(spec)
        return FunctionPolicy(obj, name=spec)
    raise PolicyError(f"policy {spec!r} is neither a function nor a Policy (got {type(obj).__name__})")
