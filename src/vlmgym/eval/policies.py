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

import hashlib
import importlib
import importlib.util
import inspect
import os
import struct
import sys
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from vlmgym.core.game import Game
    from vlmgym.core.state import GameState
    from vlmgym.envs.vector import VLMGymVectorEnv

__all__ = ["BUILTIN_POLICIES", "FunctionPolicy", "GenerationConfig", "Policy", "PolicyError", "Query",
           "RandomPolicy", "Reply", "encode_png", "make_policy", "query_seed", "wrap_answer"]

#: Names accepted by :func:`make_policy` besides ``module:attr``.
BUILTIN_POLICIES = ("random", "random-legal", "oracle", "openai:MODEL", "vllm:PATH", "hf:PATH")


class PolicyError(ValueError):
    """A policy spec or option that cannot be used (unknown name, missing key, missing package)."""


def query_seed(seed: int, env_id: str, run: int, step: int) -> int:
    """A stable 31-bit seed for one query: the same (seed, env, run, step) always gives the same."""
    digest = hashlib.blake2b(f"{seed}/{env_id}/{run}/{step}".encode(), digest_size=4).digest()
    return int.from_bytes(digest, "little") & 0x7FFFFFFF


def _png_chunk(tag: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)


def encode_png(image: np.ndarray, level: int = 3) -> bytes:
    """PNG bytes of an RGB uint8 image ``(H, W, 3)``: no row filter, one zlib stream at ``level``.

    Board pictures are large areas of flat colour, where zlib alone compresses about as well as
    Pillow's adaptive row filters at ``compress_level=1`` and runs 2-6x faster (measured in
    ``benchmarks/bench_eval.py``). Any PNG decoder reads the result.
    """
    a = np.asarray(image)
    if a.dtype != np.uint8 or a.ndim != 3 or a.shape[2] != 3:
        raise ValueError(f"encode_png expects a uint8 (H, W, 3) image, got {a.dtype} {a.shape}")
    h, w, _ = a.shape
    rows = np.empty((h, 1 + 3 * w), dtype=np.uint8)
    rows[:, 0] = 0  # filter type None
    rows[:, 1:] = a.reshape(h, 3 * w)
    header = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)  # 8-bit RGB, no interlace
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header)
            + _png_chunk(b"IDAT", zlib.compress(rows.tobytes(), level)) + _png_chunk(b"IEND", b""))


def wrap_answer(answer: str) -> str:
    """A bare answer in the paper's ``<answer>`` tags."""
    return f"<answer>{answer}</answer>"


@dataclass(eq=False)
class Query:
    """What a policy sees for one env at one step.

    Attributes:
        env_id: the environment id (e.g. ``"VLMGym/2048-v0"``).
        run: index of the run (the env of the batch).
        step: the step about to be played (1-based).
        prompt: the game instruction (rules, coordinates, answer format).
        image: the board picture, uint8 ``(H, W, 3)``, or ``None`` in ``obs_mode="text"``.
        text: the board text when the observation includes it (``obs_mode`` text modes), else
            ``None``; :meth:`user_text` puts it after the prompt.
        seed: a per-query seed for sampling (stable across resumes).
        state: the exact game state. **Privileged**: for built-in solvers and debugging only; a
            model must not see it.
        env: the live vector env (for the game's action space and counterfactual ``score``).
            **Privileged**, like ``state``.
    """

    env_id: str
    run: int
    step: int
    prompt: str
    image: np.ndarray | None
    text: str | None = None
    seed: int = 0
    state: GameState | None = field(default=None, repr=False)
    env: VLMGymVectorEnv | None = field(default=None, repr=False)
    _png: bytes | None = field(default=None, repr=False)

    @property
    def game(self) -> Game:
        """The game being played (its action space and answer format)."""
        if self.env is None:
            raise PolicyError("this query carries no env; the policy needs one to know the game")
        return self.env.game

    def user_text(self) -> str:
        """The text of the user message: the prompt, plus the board text in text modes."""
        if self.text is None:
            return self.prompt
        return f"{self.prompt}\n\nCurrent board:\n{self.text}"

    def png(self) -> bytes:
        """The image as PNG bytes, encoded once (fast setting, :func:`encode_png`) and cached."""
        if self.image is None:
            raise PolicyError(f"{self.env_id} observations have no image (obs_mode='text')")
        if self._png is None:
            self._png = encode_png(self.image)
        return self._png

    def pil(self) -> Any:
        """The image as a ``PIL.Image`` (RGB)."""
        from PIL import Image

        if self.image is None:
            raise PolicyError(f"{self.env_id} observations have no image (obs_mode='text')")
        return Image.fromarray(self.image)


@dataclass
class Reply:
    """One answer with its bookkeeping. ``text=None`` with ``error`` set marks a failed request."""

    text: str | None
    error: str | None = None
    latency_s: float | None = None
    request_bytes: int | None = None
    attempts: int = 1
    usage: dict[str, int] | None = None

    @property
    def failed(self) -> bool:
        return self.text is None


@dataclass
class GenerationConfig:
    """Sampling settings shared by the model policies.

    Attributes:
        temperature: sampling temperature (0: greedy decoding).
        max_tokens: most new tokens per answer.
        top_p: nucleus sampling threshold.
        system_prompt: optional system message.
    """

    temperature: float = 0.0
    max_tokens: int = 1024
    top_p: float = 1.0
    system_prompt: str | None = None

    def __post_init__(self) -> None:
        if not (isinstance(self.temperature, (int, float)) and self.temperature >= 0):
            raise PolicyError(f"temperature must be >= 0, got {self.temperature!r}")
        if isinstance(self.max_tokens, bool) or not isinstance(self.max_tokens, int) or self.max_tokens < 1:
            raise PolicyError(f"max_tokens must be a positive integer, got {self.max_tokens!r}")
        if not (isinstance(self.top_p, (int, float)) and 0 < self.top_p <= 1):
            raise PolicyError(f"top_p must be in (0, 1], got {self.top_p!r}")


class Policy:
    """Base class: answer a batch of queries. Override :meth:`__call__`; optionally
    :meth:`config` (recorded with the results, never secrets) and :meth:`close`."""

    name: str = "policy"

    def __call__(self, queries: Sequence[Query]) -> list[str | Reply]:
        raise NotImplementedError

    def config(self) -> dict[str, Any]:
        """Public settings of this policy (recorded in ``config.json`` and the summary)."""
        return {"name": self.name}

    def close(self) -> None:
        """Release resources (threads, models)."""

    def __enter__(self) -> Policy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class FunctionPolicy(Policy):
    """A plain function ``queries -> answers`` as a :class:`Policy`."""

    def __init__(self, fn: Callable[[list[Query]], Sequence[str | Reply]], name: str | None = None):
        self.fn = fn
        self.name = name or f"{getattr(fn, '__module__', '?')}:{getattr(fn, '__qualname__', repr(fn))}"

    def __call__(self, queries: Sequence[Query]) -> list[str | Reply]:
        return list(self.fn(list(queries)))


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
                mask = game.legal_mask(q.env.engine.stack([q.state]))[0]  # type: ignore[union-attr]
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


# -- building policies from a spec --------------------------------------------------------------
def _import_user_module(name: str) -> Any:
    """Import ``name``, also from the current directory (console scripts do not search it)."""
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        cwd = os.getcwd()
        if exc.name != name.split(".")[0] or cwd in sys.path or "" in sys.path:
            raise
        sys.path.insert(0, cwd)
        return importlib.import_module(name)


def _load_attr(spec: str) -> Any:
    """``module:attr`` or ``path/to/file.py:attr`` -> the attribute."""
    target, _, attr = spec.rpartition(":")
    if not target or not attr:
        raise PolicyError(f"policy {spec!r}: expected module:attr")
    if target.endswith(".py"):
        path = Path(target)
        if not path.is_file():
            raise PolicyError(f"policy {spec!r}: file {target} not found")
        name = f"vlmgym_user_policy_{hashlib.blake2b(str(path.resolve()).encode(), digest_size=6).hexdigest()}"
        module = sys.modules.get(name)
        if module is None:
            loader_spec = importlib.util.spec_from_file_location(name, path)
            if loader_spec is None or loader_spec.loader is None:
                raise PolicyError(f"policy {spec!r}: cannot import {target}")
            module = importlib.util.module_from_spec(loader_spec)
            sys.modules[name] = module
            loader_spec.loader.exec_module(module)
    else:
        try:
            module = _import_user_module(target)
        except ImportError as exc:
            raise PolicyError(
                f"unknown policy {spec!r}: cannot import module {target!r} ({exc}). Built-in policies: "
                f"{', '.join(BUILTIN_POLICIES)}; or module:function / path/to/file.py:function") from None
    obj = module
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise PolicyError(f"policy {spec!r}: {target} has no attribute {attr!r}") from None
    return obj


def make_policy(spec: str | Policy | Callable[..., Any], *, seed: int = 0,
                generation: GenerationConfig | None = None, **kwargs: Any) -> Policy:
    """Build a policy from a spec string (see the module docstring) or wrap a callable.

    Args:
        spec: ``random``, ``random-legal``, ``oracle``, ``openai:MODEL``, ``vllm:PATH``,
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
    obj = _load_attr(spec)
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
