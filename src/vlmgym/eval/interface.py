"""The policy interface of the evaluation harness: what a policy is given and what it returns.

A policy answers a *batch* of queries: one :class:`Query` per env (the board image and the
instruction), one answer text per query, in order. Built-in policies and :func:`make_policy` are
in :mod:`vlmgym.eval.policies`; the names here are re-exported there.
"""

from __future__ import annotations

import hashlib
import struct
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from vlmgym.core.game import Game
    from vlmgym.core.state import GameState
    from vlmgym.envs.vector import VLMGymVectorEnv

__all__ = ["FunctionPolicy", "GenerationConfig", "Policy", "PolicyError", "Query", "Reply", "encode_png",
           "query_seed", "wrap_answer"]


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
