"""Datasets of sampled game states for GRPO: one state per row.

Each row holds everything the trainer and the rewards need:

=================  ==========================================================================
``prompt``         conversational prompt: one user message with an image slot and the game's
                   instruction (plus a system message when ``system_prompt`` is given)
``image``          the board picture (PIL), which TRL puts into the image slot
``state``          the serialized :class:`vlmgym.GameState` (``GameState.to_bytes()``)
``state_id``       ``GameState.digest()``: a short stable id of the state
``env_id``         the registered id, e.g. ``"VLMGym/2048-v0"``
``env_kwargs``     JSON object of the env kwargs the state was sampled with
``board_text``     exact ground-truth board text (the perception target)
``source``         ``"sampled"`` (reset + K random moves) or ``"on_policy"`` (advanced by the policy)
``policy_steps``   how many policy moves led from the sampled state to this one
=================  ==========================================================================

Sampling follows the paper: reset, then K uniformly random moves (K per game by default: 2048 100,
Shisen-Sho 250, Swap 0), seeded and reproducible. The moves run on text-mode vector envs, so no
picture is drawn until the final states are rendered, once, in one batch.

:func:`build_state_dataset` gives a fixed :class:`datasets.Dataset`; :func:`stream_state_dataset`
gives an endless :class:`datasets.IterableDataset` with fresh states for every step (a deterministic
function of the seed and the position in the stream, so a resumed run continues the same stream).
Both take one game or a weighted mixture. :class:`OnPolicyPool` feeds states advanced by the policy's
own moves back into a stream (see :class:`vlmgym_rl.rewards.GameReward`).
"""

from __future__ import annotations

import itertools
import json
import math
import threading
import uuid
import weakref
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
import numpy as np

import vlmgym

__all__ = [
    "COLUMNS",
    "REQUIRED_COLUMNS",
    "GameSpec",
    "OnPolicyPool",
    "StateSampler",
    "allocate",
    "as_game_specs",
    "build_state_dataset",
    "derive_seed",
    "stream_state_dataset",
]

#: Every column of a state dataset, in order.
COLUMNS = ("prompt", "image", "state", "state_id", "env_id", "env_kwargs", "board_text", "source",
           "policy_steps")
#: Columns the rewards and the trainer need (``source``/``policy_steps``/``state_id`` are optional).
REQUIRED_COLUMNS = ("prompt", "image", "state", "env_id", "env_kwargs", "board_text")

# Env kwargs that describe how an env is driven, not the game: the dataset sets them itself.
_RESERVED_KWARGS = frozenset({"obs_mode", "action_mode", "render_mode", "num_envs", "autoreset_mode",
                              "max_episode_steps", "reward_mode"})
_OBS_MODES = ("image", "image+text")


def _kwargs_json(kwargs: Mapping[str, Any]) -> str:
    return json.dumps(dict(kwargs), sort_keys=True, separators=(",", ":"))


@dataclass(frozen=True)
class GameSpec:
    """One game of a training mixture.

    Args:
        env_id: an id registered with vlmgym's entry points (``vlmgym.is_vlmgym_id``), e.g.
            ``"VLMGym/2048-v0"`` or an id of your own (``vlmgym.register_env``).
        env_kwargs: overrides of the id's game/render kwargs (``size=5``, ``cell_px=28``, ...).
            Driving kwargs (obs/action/reward/render mode, ``num_envs``) are set by the dataset and
            the rewards and are refused here.
        weight: relative share of this game in a mixture (> 0).
        k: random moves after reset; ``None`` uses the game's paper value.
        obs_mode: ``"image"`` (the paper) or ``"image+text"`` (the board text is appended to the
            prompt as well).
    """

    env_id: str
    env_kwargs: Mapping[str, Any] = field(default_factory=dict)
    weight: float = 1.0
    k: int | None = None
    obs_mode: str = "image"

    def __post_init__(self) -> None:
        vlmgym.require_vlmgym_id(self.env_id)
        if not isinstance(self.env_kwargs, Mapping):
            raise TypeError(f"env_kwargs for {self.env_id} must be a mapping, got {type(self.env_kwargs).__name__}")
        reserved = sorted(set(self.env_kwargs) & _RESERVED_KWARGS)
        if reserved:
            raise ValueError(f"env_kwargs for {self.env_id} may not set {reserved}: the state datasets and "
                             "rewards choose these (use GameSpec.obs_mode and GameReward(reward_mode=...))")
        try:
            object.__setattr__(self, "env_kwargs", json.loads(_kwargs_json(self.env_kwargs)))
        except (TypeError, ValueError) as exc:
            raise ValueError(f"env_kwargs for {self.env_id} must be JSON data: {exc}") from None
        w = self.weight
        if isinstance(w, bool) or not isinstance(w, (int, float)) or not math.isfinite(w) or w <= 0:
            raise ValueError(f"weight for {self.env_id} must be a positive number, got {w!r}")
        if self.k is not None and (isinstance(self.k, bool) or not isinstance(self.k, (int, np.integer))
                                   or self.k < 0):
            raise ValueError(f"k for {self.env_id} must be a non-negative integer or None, got {self.k!r}")
        if self.obs_mode not in _OBS_MODES:
            raise ValueError(f"obs_mode for {self.env_id} must be one of {_OBS_MODES}, got {self.obs_mode!r}")

    @property
    def key(self) -> str:
        """Short name used in metric names: the id without its namespace (``2048-v0``)."""
        return self.env_id.split("/", 1)[-1]

    @property
    def kwargs_json(self) -> str:
        """The env kwargs as canonical JSON (the ``env_kwargs`` column)."""
        return _kwargs_json(self.env_kwargs)

    @property
    def config_key(self) -> tuple[str, str]:
        """(env id, kwargs JSON): which env a state belongs to."""
        return (self.env_id, self.kwargs_json)


GamesLike = str | GameSpec | Sequence[str | GameSpec] | Mapping[str, float]


def as_game_specs(games: GamesLike, *, env_kwargs: Mapping[str, Any] | None = None) -> list[GameSpec]:
    """Normalise ``"VLMGym/2048-v0"``, a list of ids/specs, or ``{id: weight}`` to a list of specs.

    ``env_kwargs`` (optional) applies to every id given as a string.
    """
    extra = dict(env_kwargs or {})
    if isinstance(games, (str, GameSpec)):
        games = [games]
    if isinstance(games, Mapping):
        specs = [GameSpec(env_id, extra, weight=w) for env_id, w in games.items()]
    elif isinstance(games, Sequence):
        specs = [g if isinstance(g, GameSpec) else GameSpec(g, extra) for g in games]
    else:
        raise TypeError(f"games must be an env id, a GameSpec, a list of them or {{id: weight}}, got "
                        f"{type(games).__name__}")
    if not specs:
        raise ValueError("need at least one game")
    keys = [s.config_key for s in specs]
    if len(set(keys)) != len(keys):
        raise ValueError(f"the same game configuration is listed twice: {keys}")
    return specs


def derive_seed(*parts: int) -> int:
    """A non-negative 62-bit seed derived from integers (stable across runs and platforms)."""
    return int(np.random.SeedSequence([int(p) for p in parts]).generate_state(1, dtype=np.uint64)[0] >> 2)


def allocate(n: int, weights: np.ndarray, rng: np.random.Generator | None) -> np.ndarray:
    """Split ``n`` into counts proportional to ``weights`` (floors, remainders by chance or by size)."""
    p = weights / weights.sum()
    exact = p * n
    counts = np.floor(exact).astype(np.int64)
    rest = int(n - counts.sum())
    if rest:
        frac = exact - counts
        if rng is None:
            extra = np.argsort(-frac, kind="stable")[:rest]
        else:
            extra = rng.choice(len(p), size=rest, replace=False, p=frac / frac.sum())
        counts[extra] += 1
    return counts


class StateSampler:
    """Samples states and renders rows for a list of games, reusing its vector envs.

    Random moves run on text-mode envs (nothing is drawn); the final states of a batch are drawn
    once on an image env. :attr:`render_calls` counts the batches drawn so far and
    :attr:`frames_composed` the frames all its envs composed.
    """

    def __init__(self, games: GamesLike, *, system_prompt: str | None = None):
        self.specs = as_game_specs(games)
        if system_prompt is not None and not isinstance(system_prompt, str):
            raise TypeError("system_prompt must be a string or None")
        self.system_prompt = system_prompt
        self.render_calls = 0  # batches of pictures drawn (one per rows() call)
        self._text_envs: dict[tuple[int, int], Any] = {}
        self._image_envs: dict[tuple[int, int], Any] = {}
        for i in range(len(self.specs)):  # fail now on bad kwargs, not in the middle of a run
            self._env(self._text_envs, i, 1, "text")

    def _env(self, cache: dict[tuple[int, int], Any], i: int, n: int, obs_mode: str) -> Any:
        key = (i, n)
        env = cache.get(key)
        if env is None:
            spec = self.specs[i]
            try:
                env = gym.make_vec(spec.env_id, num_envs=n, obs_mode=obs_mode, **spec.env_kwargs)
            except (TypeError, ValueError) as exc:
                raise ValueError(f"cannot build {spec.env_id} with env_kwargs {spec.env_kwargs}: {exc}") from exc
            if not isinstance(env, vlmgym.VLMGymVectorEnv):
                raise TypeError(f"{spec.env_id} did not give a native vlmgym vector env")
            cache[key] = env
        return env

    @property
    def frames_composed(self) -> int:
        """Frames composed by all of this sampler's envs (sampling itself composes none)."""
        envs = list(self._image_envs.values()) + list(self._text_envs.values())
        return int(sum(e.frames_composed for e in envs))

    def sample(self, i: int, n: int, seed: int) -> list[vlmgym.GameState]:
        """``n`` states of game ``i``: reset with ``seed`` (env j gets ``seed + j``), K random moves."""
        spec = self.specs[i]
        env = self._env(self._text_envs, i, n, "text")
        env.reset(seed=int(seed))
        k = env.game.sampler_steps if spec.k is None else int(spec.k)
        if k:
            env.random_steps(k)
        return env.get_states()

    def rows(self, i: int, states: Sequence[vlmgym.GameState], *, source: str = "sampled",
             policy_steps: Sequence[int] | None = None) -> list[dict[str, Any]]:
        """Dataset rows for states of game ``i`` (pictures drawn here, in one batch)."""
        from PIL import Image

        spec = self.specs[i]
        states = list(states)
        if not states:
            return []
        # One image env per power-of-two batch size (building an env costs more than drawing a
        # few extra boards): pad with the last state, keep the first len(states) results.
        size = 1 << (len(states) - 1).bit_length()
        env = self._env(self._image_envs, i, size, spec.obs_mode)
        env.set_states(states + [states[-1]] * (size - len(states)))
        obs, info = env.observe()
        self.render_calls += 1
        frames = obs["image"] if isinstance(obs, dict) else obs
        steps = [0] * len(states) if policy_steps is None else list(policy_steps)
        out = []
        for j, state in enumerate(states):
            board = str(info["board_text"][j])
            text = str(info["prompt"][j])
            if spec.obs_mode == "image+text":
                text = f"{text}\n\nCurrent board:\n{board}"  # as the evaluation harness asks
            prompt = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": text}]}]
            if self.system_prompt is not None:
                prompt.insert(0, {"role": "system", "content": [{"type": "text", "text": self.system_prompt}]})
            out.append({
                "prompt": prompt,
                "image": Image.fromarray(frames[j]),
                "state": state.to_bytes(),
                "state_id": state.digest(),
                "env_id": spec.env_id,
                "env_kwargs": spec.kwargs_json,
                "board_text": board,
                "source": source,
                "policy_steps": int(steps[j]),
            })
        return out

    def index_of(self, env_id: str, kwargs_json: str) -> int | None:
        for i, s in enumerate(self.specs):
            if s.config_key == (env_id, kwargs_json):
                return i
        return None

    def close(self) -> None:
        for env in itertools.chain(self._text_envs.values(), self._image_envs.values()):
            env.close()
        self._text_envs.clear()
        self._image_envs.clear()


def _features() -> Any:
    from datasets import Features, Image, List, Value

    block = {"type": Value("string"), "text": Value("string")}
    message = {"role": Value("string"), "content": List(block)}
    return Features({
        "prompt": List(message),
        "image": Image(),
        "state": Value("binary"),
        "state_id": Value("string"),
        "env_id": Value("string"),
        "env_kwargs": Value("string"),
        "board_text": Value("string"),
        "source": Value("string"),
        "policy_steps": Value("int64"),
    })


def build_state_dataset(games: GamesLike, num_states: int, *, seed: int = 0,
                        system_prompt: str | None = None) -> Any:
    """A fixed :class:`datasets.Dataset` of ``num_states`` sampled states.

    With several games, each gets a share proportional to its weight (largest remainders), and the
    rows are shuffled together. The same arguments always give the same dataset.
    """
    from datasets import Dataset

    if isinstance(num_states, bool) or not isinstance(num_states, (int, np.integer)) or num_states < 1:
        raise ValueError(f"num_states must be a positive integer, got {num_states!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    sampler = StateSampler(games, system_prompt=system_prompt)
    try:
        weights = np.array([s.weight for s in sampler.specs], dtype=np.float64)
        counts = allocate(int(num_states), weights, None)
        rows: list[dict[str, Any]] = []
        for i, n in enumerate(counts):
            if n:
                rows += sampler.rows(i, sampler.sample(i, int(n), derive_seed(seed, i, 0)))
        order = np.random.default_rng(derive_seed(seed, 1 << 20)).permutation(len(rows))
        return Dataset.from_list([rows[j] for j in order], features=_features())
    finally:
        sampler.close()


class OnPolicyPool:
    """States advanced by the policy's own moves, waiting to be trained on.

    :class:`~vlmgym_rl.rewards.GameReward` (given ``on_policy=pool``) pushes, for every group of
    completions, the state after the first legal move among them (the policy's choice); a stream
    made with ``on_policy=pool`` replaces up to ``fraction`` of every chunk with the newest pushed
    states, so later game phases are trained too. Terminal states are dropped.

    Args:
        fraction: share of each stream chunk taken from the pool (when it holds enough states).
        capacity: states kept (the oldest are dropped first).
        max_policy_steps: drop states that are more than this many policy moves away from a
            sampled state (``None``: no limit).

    The pool lives in the training process; copies of it (``copy.deepcopy``, pickling inside the
    same process) refer to the same pool, because the reward and the dataset must share it.
    Its contents are not saved in checkpoints: a resumed run refills it from new moves.
    """

    _registry: weakref.WeakValueDictionary[str, OnPolicyPool] = weakref.WeakValueDictionary()

    def __init__(self, fraction: float = 0.5, capacity: int = 4096, max_policy_steps: int | None = None):
        if not isinstance(fraction, (int, float)) or not 0.0 <= fraction <= 1.0:
            raise ValueError(f"fraction must be in [0, 1], got {fraction!r}")
        if isinstance(capacity, bool) or not isinstance(capacity, int) or capacity < 1:
            raise ValueError(f"capacity must be a positive integer, got {capacity!r}")
        if max_policy_steps is not None and (not isinstance(max_policy_steps, int) or max_policy_steps < 1):
            raise ValueError(f"max_policy_steps must be a positive integer or None, got {max_policy_steps!r}")
        self.fraction = float(fraction)
        self.capacity = capacity
        self.max_policy_steps = max_policy_steps
        self._items: deque[tuple[str, str, bytes, int]] = deque(maxlen=capacity)
        self._lock = threading.Lock()
        self.pushed = 0
        self.taken = 0
        self._id = uuid.uuid4().hex
        OnPolicyPool._registry[self._id] = self

    def push(self, env_id: str, env_kwargs: str, state: vlmgym.GameState | bytes, policy_steps: int) -> bool:
        """Offer a state reached by the policy; returns whether it was kept."""
        if self.max_policy_steps is not None and policy_steps > self.max_policy_steps:
            return False
        blob = state.to_bytes() if isinstance(state, vlmgym.GameState) else bytes(state)
        with self._lock:
            self._items.append((env_id, env_kwargs, blob, int(policy_steps)))
            self.pushed += 1
        return True

    def take(self, n: int) -> list[tuple[str, str, bytes, int]]:
        """Remove and return up to ``n`` of the newest states."""
        out: list[tuple[str, str, bytes, int]] = []
        with self._lock:
            while self._items and len(out) < n:
                out.append(self._items.pop())
            self.taken += len(out)
        return out

    def __len__(self) -> int:
        return len(self._items)

    def __deepcopy__(self, memo: dict[int, Any]) -> OnPolicyPool:
        return self

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return (_lookup_pool, (self._id,))


def _lookup_pool(pool_id: str) -> OnPolicyPool:
    pool = OnPolicyPool._registry.get(pool_id)
    if pool is None:
        raise RuntimeError("an OnPolicyPool can only be shared inside the process that created it")
    return pool


def _stream_rows(games: Sequence[GameSpec], seed: int, chunk_size: int, system_prompt: str | None,
                 pool: OnPolicyPool | None, stats: dict[str, Any]) -> Iterator[dict[str, Any]]:
    import time

    sampler = StateSampler(games, system_prompt=system_prompt)
    weights = np.array([s.weight for s in sampler.specs], dtype=np.float64)
    try:
        for chunk in itertools.count():
            t0 = time.perf_counter()
            rng = np.random.default_rng(derive_seed(seed, chunk, 1 << 21))
            rows: list[dict[str, Any]] = []
            if pool is not None and pool.fraction > 0:
                taken = pool.take(int(round(pool.fraction * chunk_size)))
                by_game: dict[int, list[tuple[vlmgym.GameState, int]]] = {}
                for env_id, kw, blob, depth in taken:
                    i = sampler.index_of(env_id, kw)
                    if i is None:
                        continue
                    try:
                        by_game.setdefault(i, []).append((vlmgym.GameState.from_bytes(blob), depth))
                    except ValueError:
                        continue
                for i, items in sorted(by_game.items()):
                    rows += sampler.rows(i, [s for s, _ in items], source="on_policy",
                                         policy_steps=[d for _, d in items])
            fresh = chunk_size - len(rows)
            counts = allocate(fresh, weights, rng if len(weights) > 1 else None)
            for i, n in enumerate(counts):
                if n:
                    rows += sampler.rows(i, sampler.sample(i, int(n), derive_seed(seed, i, chunk + 1)))
            order = rng.permutation(len(rows))
            dt = time.perf_counter() - t0
            stats["seconds"] = stats.get("seconds", 0.0) + dt
            stats.setdefault("chunk_seconds", []).append(dt)
            stats["states"] = stats.get("states", 0) + len(rows)
            stats["render_calls"] = sampler.render_calls
            for j in order:
                yield rows[j]
    finally:
        sampler.close()


class _StreamStats(dict):  # a dict that deep-copies to itself, so IterableDataset copies share it
    def __deepcopy__(self, memo: dict[int, Any]) -> _StreamStats:
        return self


def stream_state_dataset(games: GamesLike, *, seed: int = 0, chunk_size: int = 128,
                         system_prompt: str | None = None, on_policy: OnPolicyPool | None = None) -> Any:
    """An endless :class:`datasets.IterableDataset` of fresh states.

    States are sampled ``chunk_size`` at a time (set it to the states of one training step, so a
    step's states are sampled and drawn in one batch per game); a mixture allocates each chunk by
    weight. Chunk ``c`` depends only on ``(seed, c)``, so iterating again, or resuming a run and
    skipping what was consumed, yields the same stream (except for on-policy states, which depend
    on the run). The returned dataset has no declared features: rows pass through as Python
    objects (PIL images are not re-encoded). ``dataset.vlmgym_stats`` reports time spent sampling
    and rendering (in total and per chunk), states produced and pictures drawn.
    """
    from datasets import IterableDataset

    specs = as_game_specs(games)
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, (int, np.integer)) or chunk_size < 1:
        raise ValueError(f"chunk_size must be a positive integer, got {chunk_size!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    if on_policy is not None and not isinstance(on_policy, OnPolicyPool):
        raise TypeError(f"on_policy must be an OnPolicyPool, got {type(on_policy).__name__}")
    StateSampler(specs).close()  # validate every game's kwargs now, not on the first training step
    stats = _StreamStats()
    ds = IterableDataset.from_generator(
        _stream_rows,
        gen_kwargs={"games": tuple(specs), "seed": int(seed), "chunk_size": int(chunk_size),
                    "system_prompt": system_prompt, "pool": on_policy, "stats": stats})
    ds.vlmgym_stats = stats
    ds.vlmgym_games = specs
    return ds
