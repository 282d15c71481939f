"""Reward functions for TRL's ``GRPOTrainer``, scored by the vlmgym environments.

Each reward is a picklable callable with TRL's signature: keyword arguments ``prompts``,
``completions``, ``completion_ids``, every dataset column as a per-sample list (``state``,
``env_id``, ``env_kwargs``, ``board_text``, ...), and TRL's ``trainer_state``, ``log_metric`` and
``log_extra``. It returns one float (or ``None``: "could not score", which TRL leaves out of the
advantage) per completion.

* :class:`GameReward` restores each completion's state into a vector env and applies the
  completion with ``VLMGymVectorEnv.score`` (counterfactual: one batched call per game
  configuration, live envs untouched): +1/-1 (``reward_mode="binary"``, the paper) or the score
  gained (``"score"``). The random stream is part of the state, so identical completions of the
  same state always get identical rewards.
* :class:`FormatReward`: 1 when all six tags of the paper are present, else 0.
* :class:`PerceptionReward`: 1 when the exact ground-truth board text is in the perception block
  (weight 0 by default, as in the paper).

Metrics (averaged per logging step by TRL, visible in ``trainer.state.log_history`` and trackers):
``vlmgym/<game>/reward``, ``.../success_rate``, ``.../valid_action_rate``, ``.../unparsable_rate``,
``.../illegal_rate`` per game (``<game>`` is the id without namespace, e.g. ``2048-v0``), the
overall ``vlmgym/valid_action_rate``, ``vlmgym/unparsable_rate``, ``vlmgym/malformed_rate``,
``vlmgym/on_policy_rate``, ``vlmgym/R_acc`` (success rate among completions whose perception is
exact, logged when there is one), ``vlmgym/format_rate``, ``vlmgym/P_acc``,
``vlmgym/perception_cell_acc`` and ``vlmgym/localization_rate``.

A completion that is not text in any known shape is scored as an empty (unparsable) answer and
counted in ``vlmgym/malformed_rate``; a row whose state cannot be restored gets ``None`` and is
counted in ``vlmgym/invalid_state_rate``. Neither stops training.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

import gymnasium as gym
import numpy as np

import vlmgym
from vlmgym.core.answer import closed_block, format_ok, has_localization, perception_cell_accuracy, perception_exact

__all__ = ["FormatReward", "GameReward", "PerceptionReward", "completion_text", "g0_rewards"]

logger = logging.getLogger(__name__)

_REWARD_MODES = ("binary", "score")


def completion_text(completion: Any) -> str | None:
    """The model's answer text from any completion shape TRL produces, or ``None``.

    Accepts a plain string, a list of messages (the last assistant message is used) whose content
    is a string or a list of ``{"type": "text", "text": ...}`` blocks, or a single message dict.
    """
    if isinstance(completion, str):
        return completion
    if isinstance(completion, dict):
        return _content_text(completion.get("content"))
    if isinstance(completion, (list, tuple)):
        if not completion:
            return None
        if all(isinstance(m, dict) and "role" in m for m in completion):
            assistant = [m for m in completion if m.get("role") == "assistant"] or list(completion)
            return _content_text(assistant[-1].get("content"))
        if all(isinstance(b, dict) and "type" in b for b in completion):
            return _content_text(list(completion))
    return None


def _content_text(content: Any) -> str | None:
    if isinstance(content, str):
        return content
    if isinstance(content, (list, tuple)):
        parts = [b.get("text") for b in content if isinstance(b, dict) and b.get("type") == "text"]
        texts = [p for p in parts if isinstance(p, str)]
        if parts and len(texts) == len(parts):
            return "".join(texts)
        if not content:
            return ""
    return None


def _texts(completions: Any) -> tuple[list[str], np.ndarray]:
    if not isinstance(completions, (list, tuple)):
        raise TypeError(f"completions must be a list (one per sample), got {type(completions).__name__}")
    texts, bad = [], np.zeros(len(completions), dtype=bool)
    for i, c in enumerate(completions):
        t = completion_text(c)
        if t is None:
            bad[i] = True
            t = ""
        texts.append(t)
    return texts, bad


def _column(columns: dict[str, Any], name: str, n: int, reward: str) -> list[Any]:
    if name not in columns:
        raise KeyError(f"{reward} needs the dataset column {name!r} (got columns {sorted(columns)}); build the "
                       "dataset with vlmgym_rl.states and keep remove_unused_columns=False")
    values = list(columns[name])
    if len(values) != n:
        raise ValueError(f"{reward}: column {name!r} has {len(values)} values for {n} completions")
    return values


def _log(log_metric: Callable[[str, float], None] | None, name: str, value: Any) -> None:
    if log_metric is not None:
        log_metric(name, float(value))


def _key(env_id: str) -> str:
    return str(env_id).split("/", 1)[-1]


class _Reward:
    """Common parts: a TRL-visible ``__name__`` and the call convention."""

    __name__ = "vlmgym_reward"

    def __init__(self, name: str | None = None):
        if name is not None:
            self.__name__ = name
        self.seconds = 0.0  # time spent in this reward (observability for benchmarks)
        self.calls = 0
        self.call_seconds: list[float] = []  # per call, the last 1000

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.__name__!r})"

    def __call__(self, prompts: Any = None, completions: Any = None, **kwargs: Any) -> list[float | None]:
        raise NotImplementedError

    def _timed(self, t0: float) -> None:
        dt = time.perf_counter() - t0
        self.calls += 1
        self.seconds += dt
        self.call_seconds = [*self.call_seconds[-999:], dt]


class GameReward(_Reward):
    """The game's reward for each completion, scored by the environment.

    Args:
        reward_mode: ``"binary"`` (+1 success / -1 otherwise, the paper) or ``"score"`` (score
            gained by the move).
        strict: only a closed ``<answer>...</answer>`` block counts (default). A bare reply
            (``"2"``) or an unterminated last block (``"<answer>2"``, typical of a completion cut
            at ``max_completion_length``) is scored as an unparsable answer, so a policy cannot
            earn the full game reward without the format. ``strict=False`` reads replies as the
            evaluation harness does. Counted in ``vlmgym/unclosed_answer_rate``.
        on_policy: an :class:`~vlmgym_rl.states.OnPolicyPool` to receive, per group of
            completions of one state, the state after the first legal move among them.
        name: the name TRL logs the reward under (``rewards/<name>/mean``).

    Listeners (``add_listener(fn)``) receive one record per completion after every call; the
    :class:`~vlmgym_rl.callback.VLMGymCallback` uses this to write the rollout log.
    """

    __name__ = "game_reward"

    def __init__(self, reward_mode: str = "binary", *, strict: bool = True, on_policy: Any = None,
                 name: str | None = None):
        super().__init__(name)
        if not isinstance(strict, bool):
            raise TypeError(f"strict must be True or False, got {strict!r}")
        self.strict = strict
        if reward_mode not in _REWARD_MODES:
            raise ValueError(f"reward_mode must be one of {_REWARD_MODES}, got {reward_mode!r}")
        from vlmgym_rl.states import OnPolicyPool

        if on_policy is not None and not isinstance(on_policy, OnPolicyPool):
            raise TypeError(f"on_policy must be an OnPolicyPool, got {type(on_policy).__name__}")
        self.reward_mode = reward_mode
        self.on_policy = on_policy
        self._envs: dict[tuple[str, str], Any] = {}
        self._listeners: list[Callable[[list[dict[str, Any]], Any], None]] = []
        self._warned: set[str] = set()

    # -- pickling: envs and listeners are process-local ---------------------------------------
    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_envs"] = {}
        state["_listeners"] = []
        return state

    def add_listener(self, fn: Callable[[list[dict[str, Any]], Any], None]) -> None:
        """Call ``fn(records, trainer_state)`` after every scoring call."""
        if fn not in self._listeners:
            self._listeners.append(fn)

    def remove_listener(self, fn: Callable[[list[dict[str, Any]], Any], None]) -> None:
        if fn in self._listeners:
            self._listeners.remove(fn)

    def env_for(self, env_id: str, env_kwargs: str) -> Any:
        """The (cached) scoring env of one configuration; raises ``ValueError`` if it cannot be built."""
        key = (env_id, env_kwargs)
        env = self._envs.get(key)
        if env is None:
            vlmgym.require_vlmgym_id(env_id)
            try:
                kwargs = json.loads(env_kwargs) if env_kwargs else {}
            except json.JSONDecodeError as exc:
                raise ValueError(f"env_kwargs is not JSON: {env_kwargs!r} ({exc})") from None
            if not isinstance(kwargs, dict):
                raise ValueError(f"env_kwargs must be a JSON object, got {env_kwargs!r}")
            env = gym.make_vec(env_id, num_envs=1, obs_mode="text", action_mode="text",
                               reward_mode=self.reward_mode, **kwargs)
            self._envs[key] = env
        return env

    def check_row(self, row: dict[str, Any]) -> None:
        """Raise a clear error if a dataset row cannot be scored (used before training starts)."""
        for name in ("state", "env_id", "env_kwargs"):
            if name not in row:
                raise KeyError(f"dataset rows need a {name!r} column (see vlmgym_rl.states); got {sorted(row)}")
        env = self.env_for(row["env_id"], row["env_kwargs"])
        state = vlmgym.GameState.from_bytes(row["state"])
        env.score([state], [""])

    def _warn_once(self, key: str, message: str) -> None:
        if key not in self._warned:
            self._warned.add(key)
            logger.warning(message)

    def __call__(self, prompts: Any = None, completions: Any = None, *, log_metric: Any = None,
                 log_extra: Any = None, trainer_state: Any = None, **columns: Any) -> list[float | None]:
        t0 = time.perf_counter()
        texts, malformed = _texts(completions)
        n = len(texts)
        unclosed = np.array([self.strict and closed_block(t) is None for t in texts], dtype=bool)
        answers = ["" if u else t for t, u in zip(texts, unclosed)]  # "" scores as unparsable
        blobs = _column(columns, "state", n, self.__name__)
        env_ids = _column(columns, "env_id", n, self.__name__)
        env_kwargs = _column(columns, "env_kwargs", n, self.__name__)
        boards = list(columns["board_text"]) if "board_text" in columns else None
        sources = list(columns["source"]) if "source" in columns else None
        depths = list(columns["policy_steps"]) if "policy_steps" in columns else [0] * n

        rewards: list[float | None] = [None] * n
        status = np.full(n, "invalid_state", dtype=object)
        success = np.zeros(n, dtype=bool)
        actions: list[Any] = [None] * n
        next_states: list[Any] = [None] * n
        terminated = np.zeros(n, dtype=bool)
        decoded: dict[bytes, Any] = {}
        groups: dict[tuple[str, str], list[int]] = {}
        for i in range(n):
            blob = blobs[i]
            if not isinstance(blob, (bytes, bytearray, memoryview)):
                self._warn_once("state-type", f"{self.__name__}: a 'state' value is "
                                f"{type(blob).__name__}, not bytes; those completions get no reward")
                continue
            blob = bytes(blob)
            if blob not in decoded:
                try:
                    decoded[blob] = vlmgym.GameState.from_bytes(blob)
                except ValueError as exc:
                    decoded[blob] = None
                    self._warn_once("state-bytes", f"{self.__name__}: a state could not be restored ({exc}); "
                                    "its completions get no reward")
            if decoded[blob] is not None:
                groups.setdefault((str(env_ids[i]), str(env_kwargs[i])), []).append(i)
        want_next = self.on_policy is not None
        for (env_id, kw), idx in groups.items():
            try:
                env = self.env_for(env_id, kw)
                r, info = env.score([decoded[bytes(blobs[i])] for i in idx], [answers[i] for i in idx],
                                    return_states=want_next)
            except (ValueError, TypeError, KeyError) as exc:
                self._warn_once(f"env-{env_id}-{kw}", f"{self.__name__}: cannot score {env_id} {kw}: {exc}; "
                                "those completions get no reward")
                continue
            for j, i in enumerate(idx):
                rewards[i] = float(r[j])
                status[i] = "malformed" if malformed[i] else str(info["action_status"][j])
                success[i] = bool(info["success"][j])
                actions[i] = info["action"][j]
                terminated[i] = bool(info["terminated"][j])
                if want_next:
                    next_states[i] = info["next_state"][j]

        if want_next:
            self._push_on_policy(blobs, env_ids, env_kwargs, status, terminated, next_states, depths)
        self._log_metrics(log_metric, env_ids, rewards, status, success, malformed, texts, boards, sources)
        if self.strict:
            _log(log_metric, "vlmgym/unclosed_answer_rate", unclosed.mean() if n else 0.0)
        if log_extra is not None:
            log_extra("state_id", [_state_id(decoded, b) for b in blobs])
            log_extra("action_status", [str(s) for s in status])
        if self._listeners:
            records = [{
                "index": i, "env_id": str(env_ids[i]), "env_kwargs": str(env_kwargs[i]),
                "state_id": _state_id(decoded, blobs[i]), "completion": texts[i],
                "status": str(status[i]), "action": _jsonable(actions[i]), "success": bool(success[i]),
                "game_reward": rewards[i],
                "format_reward": 1.0 if format_ok(texts[i]) else 0.0,
                "perception_reward": (1.0 if boards is not None and perception_exact(texts[i], boards[i])
                                      else 0.0),
                "perception_cell_acc": (perception_cell_accuracy(texts[i], boards[i])
                                        if boards is not None and isinstance(boards[i], str) else None),
                "localization": has_localization(texts[i]),
                "source": None if sources is None else sources[i], "policy_steps": int(depths[i]),
                "image": columns["image"][i] if "image" in columns else None,
            } for i in range(n)]
            for fn in list(self._listeners):
                fn(records, trainer_state)
        self._timed(t0)
        return rewards

    def _push_on_policy(self, blobs: Sequence[Any], env_ids: Sequence[Any], env_kwargs: Sequence[Any],
                        status: np.ndarray, terminated: np.ndarray, next_states: list[Any],
                        depths: Sequence[Any]) -> None:
        assert self.on_policy is not None
        seen: set[tuple[bytes, str, str]] = set()
        done: set[tuple[bytes, str, str]] = set()
        for i, blob in enumerate(blobs):
            if not isinstance(blob, (bytes, bytearray, memoryview)):
                continue
            group = (bytes(blob), str(env_ids[i]), str(env_kwargs[i]))
            seen.add(group)
            if group in done or status[i] != "ok" or terminated[i] or next_states[i] is None:
                continue
            done.add(group)
            self.on_policy.push(str(env_ids[i]), str(env_kwargs[i]), next_states[i], int(depths[i]) + 1)

    def _log_metrics(self, log_metric: Any, env_ids: Sequence[Any], rewards: Sequence[float | None],
                     status: np.ndarray, success: np.ndarray, malformed: np.ndarray, texts: Sequence[str],
                     boards: Sequence[str] | None, sources: Sequence[str] | None) -> None:
        if log_metric is None or not len(status):
            return
        keys = np.array([_key(e) for e in env_ids], dtype=object)
        scored = np.array([r is not None for r in rewards])
        values = np.array([np.nan if r is None else r for r in rewards], dtype=np.float64)
        for key in sorted(set(keys)):
            m = (keys == key) & scored
            if not m.any():
                continue
            _log(log_metric, f"vlmgym/{key}/reward", values[m].mean())
            _log(log_metric, f"vlmgym/{key}/success_rate", success[m].mean())
            _log(log_metric, f"vlmgym/{key}/valid_action_rate", (status[m] == "ok").mean())
            _log(log_metric, f"vlmgym/{key}/unparsable_rate", np.isin(status[m], ("unparsable", "malformed")).mean())
            _log(log_metric, f"vlmgym/{key}/illegal_rate", (status[m] == "illegal").mean())
        _log(log_metric, "vlmgym/valid_action_rate", (status == "ok").mean())
        _log(log_metric, "vlmgym/unparsable_rate", np.isin(status, ("unparsable", "malformed")).mean())
        _log(log_metric, "vlmgym/malformed_rate", malformed.mean())
        _log(log_metric, "vlmgym/invalid_state_rate", (~scored).mean())
        if sources is not None:
            _log(log_metric, "vlmgym/on_policy_rate", np.mean([s == "on_policy" for s in sources]))
        if boards is not None:
            exact = np.array([perception_exact(t, b) for t, b in zip(texts, boards)]) & scored
            if exact.any():
                _log(log_metric, "vlmgym/R_acc", success[exact].mean())


def _state_id(decoded: dict[bytes, Any], blob: Any) -> str | None:
    if not isinstance(blob, (bytes, bytearray, memoryview)):
        return None
    state = decoded.get(bytes(blob))
    return None if state is None else state.digest()


def _jsonable(action: Any) -> Any:
    if action is None or isinstance(action, (int, str, float)):
        return action
    if isinstance(action, np.generic):
        return action.item()
    if isinstance(action, (tuple, list)):
        return [_jsonable(a) for a in action]
    return repr(action)


class FormatReward(_Reward):
    """1.0 when the completion has all six tags of the paper (``<perception>``, ``<think>``,
    ``<answer>`` and their closing tags), else 0.0. Logs ``vlmgym/format_rate``."""

    __name__ = "format_reward"

    def __call__(self, prompts: Any = None, completions: Any = None, *, log_metric: Any = None,
                 **kwargs: Any) -> list[float | None]:
        t0 = time.perf_counter()
        texts, _ = _texts(completions)
        out: list[float | None] = [1.0 if format_ok(t) else 0.0 for t in texts]
        if texts:
            _log(log_metric, "vlmgym/format_rate", float(np.mean([v for v in out if v is not None])))
        self._timed(t0)
        return out


class PerceptionReward(_Reward):
    """1.0 when ``<perception>\\n{board_text}\\n</perception>`` appears verbatim, else 0.0.

    Logs ``vlmgym/P_acc`` (the same exact check), ``vlmgym/perception_cell_acc`` (share of cells
    named correctly) and ``vlmgym/localization_rate`` (coordinate-tagged cells in the perception).
    Needs the ``board_text`` column.
    """

    __name__ = "perception_reward"

    def __call__(self, prompts: Any = None, completions: Any = None, *, log_metric: Any = None,
                 **columns: Any) -> list[float | None]:
        t0 = time.perf_counter()
        texts, _ = _texts(completions)
        boards = _column(columns, "board_text", len(texts), self.__name__)
        out: list[float | None] = []
        cells = []
        for t, b in zip(texts, boards):
            if not isinstance(b, str):
                out.append(None)
                continue
            out.append(1.0 if perception_exact(t, b) else 0.0)
            cells.append(perception_cell_accuracy(t, b))
        valid = [v for v in out if v is not None]
        if valid:
            _log(log_metric, "vlmgym/P_acc", float(np.mean(valid)))
            _log(log_metric, "vlmgym/perception_cell_acc", float(np.mean(cells)))
            _log(log_metric, "vlmgym/localization_rate", float(np.mean([has_localization(t) for t in texts])))
        self._timed(t0)
        return out


def g0_rewards(*, format_weight: float = 1.0, perception_weight: float = 0.0, reward_mode: str = "binary",
               strict: bool = True, on_policy: Any = None) -> tuple[list[_Reward], list[float]]:
    """The paper's reward set and weights: game (1) + format (1) + perception (0 by default).

    ``strict`` is :class:`GameReward`'s (only a closed ``<answer>`` block earns the game reward).

    The perception reward is always computed and logged (P_acc), even with weight 0.
    """
    for name, w in (("format_weight", format_weight), ("perception_weight", perception_weight)):
        if isinstance(w, bool) or not isinstance(w, (int, float)) or not np.isfinite(w):
            raise ValueError(f"{name} must be a finite number, got {w!r}")
    funcs: list[_Reward] = [GameReward(reward_mode, strict=strict, on_policy=on_policy), FormatReward(), PerceptionReward()]
    return funcs, [1.0, float(format_weight), float(perception_weight)]
