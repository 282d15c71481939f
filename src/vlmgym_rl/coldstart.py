"""The G1 cold start: supervised examples whose perception is the exact board text.

The paper's G1 fine-tunes the base model on about 1,000 states per game, each with a teacher
response ``<perception>{board}</perception><think>...</think><answer>...</answer>`` whose
perception block is the exact ground truth, before running the G0 recipe. This module builds that
dataset:

* **States** are sampled as for G0 (reset, K random moves; :class:`~vlmgym_rl.states.StateSampler`),
  ``chunk_size`` at a time; chunk ``c`` of a game depends only on ``(seed, game, c)``.
* **Teachers** answer them. ``oracle`` (:class:`OracleTeacher`, no model): the built-in solver of
  :mod:`vlmgym.eval.oracle` picks the move and :mod:`vlmgym_rl.explain` writes the reasoning from
  what it checked. ``openai:MODEL`` (:class:`OpenAITeacher`): any OpenAI-compatible endpoint, as
  the paper's proprietary teacher, through :class:`vlmgym.eval.openai_client.OpenAIPolicy`.
* **Verification**: every response is rebuilt as ``<perception>\\n{exact board}\\n</perception>
  \\n<think>\\n{teacher's reasoning}\\n</think>\\n<answer>{teacher's answer}</answer>`` and applied
  to a copy of the state by the environment; only responses with a positive reward are kept.
  Rejected answers are asked again (``max_attempts``); states that stay unanswered are replaced
  by further samples until every game has ``num_states`` examples. Acceptance statistics (per
  game: states, requests, accepted, rejections by reason, the teacher's own perception accuracy)
  go to ``stats.json``.
* **Storage** (``out/``): every finished chunk is written atomically as
  ``shards/<game>/chunk-<c>.parquet`` plus its ``.json`` record, so an interrupted build continues
  where it stopped without duplicating or losing examples (with the oracle, a resumed build is
  identical to an uninterrupted one). At the end the examples are shuffled together and saved as
  ``dataset/`` (``Dataset.save_to_disk``) and ``coldstart.parquet``.

Rows are in TRL's prompt-completion format with images (``prompt``, ``completion``, ``images``)
plus ``state``, ``state_id``, ``env_id``, ``env_kwargs``, ``board_text``, ``teacher``,
``attempts`` and ``teacher_perception_exact``: ``SFTTrainer`` reads the first three and ignores the
rest.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import logging
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

import vlmgym
from vlmgym.core.answer import extract_block, perception_cell_accuracy, perception_exact
from vlmgym.eval import redact, redact_text
from vlmgym.eval.openai_client import DEFAULT_MAX_RESPONSE_BYTES
from vlmgym_rl.states import GamesLike, GameSpec, StateSampler, as_game_specs, derive_seed

__all__ = [
    "COLUMNS",
    "ColdStartResult",
    "OpenAITeacher",
    "OracleTeacher",
    "REJECT_REASONS",
    "Teacher",
    "TeacherItem",
    "TeacherReply",
    "build_coldstart_dataset",
    "compose_response",
    "load_coldstart_dataset",
    "make_teacher",
]

logger = logging.getLogger(__name__)

#: Columns of a cold-start dataset, in order.
COLUMNS = ("prompt", "completion", "images", "state", "state_id", "env_id", "env_kwargs", "board_text",
           "teacher", "attempts", "teacher_perception_exact")
#: Why an answer or a state was rejected (keys of the ``rejected`` statistics).
REJECT_REASONS = ("no_rewarded_move", "request_failed", "no_answer", "no_think", "unparsable", "illegal",
                  "not_rewarded", "duplicate_state")
_FORMAT_VERSION = 1


# -- teachers ---------------------------------------------------------------------------------------
@dataclass(eq=False)
class TeacherItem:
    """One state put to a teacher.

    ``env`` is a text-mode vector env of the state's game (for counterfactual scoring) and
    ``state`` the exact state: both are privileged, for built-in solvers only.
    """

    env_id: str
    env_kwargs: str
    state: vlmgym.GameState
    board_text: str
    prompt_text: str
    image: Any  # PIL image of the board
    seed: int
    env: Any = field(repr=False, default=None)


@dataclass
class TeacherReply:
    """A teacher's full response text, or ``text=None`` with ``error`` (a failed request, or
    ``no_rewarded_move`` when a solver finds no rewarded move)."""

    text: str | None
    error: str | None = None


class Teacher:
    """Answers a batch of states. Subclass and implement :meth:`respond`."""

    name: str = "teacher"
    #: the same state always gets the same answer (resumed builds are then identical)
    deterministic: bool = False
    #: how often a rejected state is asked again by default
    default_attempts: int = 1

    def respond(self, items: Sequence[TeacherItem], attempt: int) -> list[TeacherReply]:
        """One reply per item (``attempt`` counts from 0; use it to vary sampling)."""
        raise NotImplementedError

    def config(self) -> dict[str, Any]:
        """Public settings (recorded in ``config.json``; never secrets)."""
        return {"name": self.name}

    def close(self) -> None:
        """Release resources."""


class OracleTeacher(Teacher):
    """The built-in solver (:class:`vlmgym.eval.oracle.OraclePolicy`) with reasoning written from
    what it checked (:mod:`vlmgym_rl.explain`). Deterministic; needs no model.

    States without a rewarded move (a 2048 board where no move merges) get
    ``TeacherReply(None, "no_rewarded_move")`` and are replaced by new samples.

    Args:
        think: ``"full"`` (default): every check the solver made, as the game explains it;
            ``"brief"``: only its last line, the conclusion (e.g. "So I move 2 (down)."), for
            short completions where generation dominates the cost (CPU experiments such as
            ``benchmarks/bench_learning.py``). The perception block and the answer are the same.
    """

    name = "oracle"
    deterministic = True
    THINK = ("full", "brief")

    def __init__(self, think: str = "full") -> None:
        from vlmgym.eval.oracle import OraclePolicy

        if think not in self.THINK:
            raise ValueError(f"think must be one of {self.THINK}, got {think!r}")
        self.think = think
        self.policy = OraclePolicy()

    def config(self) -> dict[str, Any]:
        return {"name": self.name} if self.think == "full" else {"name": self.name, "think": self.think}

    def respond(self, items: Sequence[TeacherItem], attempt: int) -> list[TeacherReply]:
        from vlmgym.eval import Query
        from vlmgym_rl.explain import explain

        out: list[TeacherReply] = []
        if not items:
            return out
        queries = [Query(env_id=it.env_id, run=i, step=1, prompt=it.prompt_text, image=None, seed=it.seed,
                         state=it.state, env=it.env) for i, it in enumerate(items)]
        picks = self.policy(queries)
        for it, pick in zip(items, picks):
            text = pick.text if hasattr(pick, "text") else pick
            parsed = it.env.game.parse(text or "")
            e = explain(it.env, it.state, it.board_text, parsed.action)
            if e.answer is None:
                out.append(TeacherReply(None, "no_rewarded_move"))
                continue
            think = e.think
            if self.think == "brief":
                think = next((line for line in reversed(think.strip().splitlines()) if line.strip()), "")
            out.append(TeacherReply(compose_response(it.board_text, think, e.answer)))
        return out


class OpenAITeacher(Teacher):
    """A model behind an OpenAI-compatible chat endpoint (``openai:MODEL``), as the paper's teacher.

    Each state is sent as the training prompt (the board picture and the game's instruction) through
    :class:`vlmgym.eval.openai_client.OpenAIPolicy` (concurrency, retries with backoff, a per-request
    seed). Answers are verified by the builder; a rejected state is asked again with a new seed, up
    to ``max_attempts`` times in total.

    Args:
        model: the served model name.
        base_url, api_key_env, concurrency, timeout, retries, extra_body, max_response_bytes: see
            ``OpenAIPolicy`` (``timeout`` is a total deadline per request attempt).
        temperature, max_tokens, system_prompt: sampling settings (a temperature above 0 makes
            the retries differ).
        board_text_hint: also give the teacher the exact board text (``Current board:`` after the
            instruction). The stored prompt never contains it; the hint only raises acceptance.
        max_attempts: requests per state before it is given up.
    """

    name = "openai"

    def __init__(self, model: str, *, base_url: str | None = None, api_key_env: str = "OPENAI_API_KEY",
                 concurrency: int = 8, timeout: float = 120.0, retries: int = 4, temperature: float = 0.7,
                 max_tokens: int = 4096, system_prompt: str | None = None, extra_body: dict[str, Any] | None = None,
                 board_text_hint: bool = False, max_attempts: int = 3, seed: int = 0,
                 max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES):
        from vlmgym.eval.openai_client import OpenAIPolicy
        from vlmgym.eval.policies import GenerationConfig

        if isinstance(max_attempts, bool) or not isinstance(max_attempts, int) or max_attempts < 1:
            raise ValueError(f"max_attempts must be a positive integer, got {max_attempts!r}")
        generation = GenerationConfig(temperature=temperature, max_tokens=max_tokens, system_prompt=system_prompt)
        self.policy = OpenAIPolicy(model, base_url=base_url, api_key_env=api_key_env, concurrency=concurrency,
                                   timeout=timeout, retries=retries, generation=generation, seed=seed,
                                   extra_body=extra_body, max_response_bytes=max_response_bytes)
        self.model = model
        self.name = f"openai:{model}"
        self.board_text_hint = bool(board_text_hint)
        self.default_attempts = max_attempts

    def config(self) -> dict[str, Any]:
        return {**self.policy.config(), "name": self.name, "board_text_hint": self.board_text_hint,
                "max_attempts": self.default_attempts}

    def respond(self, items: Sequence[TeacherItem], attempt: int) -> list[TeacherReply]:
        from vlmgym.eval import Query

        queries = [Query(env_id=it.env_id, run=i, step=1 + attempt, prompt=it.prompt_text,
                         image=np.asarray(it.image.convert("RGB")),
                         text=it.board_text if self.board_text_hint else None,
                         seed=(it.seed + 7919 * attempt) & 0x7FFFFFFF) for i, it in enumerate(items)]
        out = []
        for reply in self.policy(queries):
            if isinstance(reply, str):
                out.append(TeacherReply(reply))
            else:
                out.append(TeacherReply(reply.text, reply.error))
        return out

    def close(self) -> None:
        self.policy.close()


def make_teacher(spec: str | Teacher, **options: Any) -> Teacher:
    """``"oracle"``, ``"openai:MODEL"`` (options as :class:`OpenAITeacher`) or a :class:`Teacher`."""
    if isinstance(spec, Teacher):
        if options:
            raise ValueError(f"teacher options {sorted(options)} given with a Teacher instance")
        return spec
    if spec == "oracle":
        unknown = sorted(set(options) - {"think"})
        if unknown:
            raise ValueError(f"the oracle teacher takes only the option 'think'; got {unknown}")
        return OracleTeacher(**options)
    kind, sep, model = str(spec).partition(":")
    if kind == "openai" and sep and model:
        return OpenAITeacher(model, **options)
    raise ValueError(f"unknown teacher {spec!r}: use 'oracle' or 'openai:MODEL'")


# -- responses ----------------------------------------------------------------------------------------
def compose_response(board_text: str, think: str, answer: str) -> str:
    """The training target: the exact perception, then the reasoning, then the answer."""
    return (f"<perception>\n{board_text}\n</perception>\n<think>\n{think.strip()}\n</think>\n"
            f"<answer>{answer.strip()}</answer>")


@dataclass
class _Verdict:
    response: str | None
    reason: str | None
    teacher_perception_exact: bool
    teacher_cell_acc: float | None


def _verify(env: Any, items: Sequence[TeacherItem], replies: Sequence[TeacherReply]) -> list[_Verdict]:
    """Rebuild each reply with the exact perception and keep it if the env rewards its answer."""
    verdicts: list[_Verdict] = []
    todo: list[int] = []
    for it, reply in zip(items, replies):
        if reply.text is None:
            reason = "no_rewarded_move" if reply.error == "no_rewarded_move" else "request_failed"
            verdicts.append(_Verdict(None, reason, False, None))
            continue
        text = reply.text
        has_block = extract_block(text, "perception") is not None
        exact = perception_exact(text, it.board_text)
        cell = perception_cell_accuracy(text, it.board_text) if has_block else None
        think = extract_block(text, "think")
        answer = extract_block(text, "answer")
        if answer is None or not answer.strip():
            verdicts.append(_Verdict(None, "no_answer", exact, cell))
        elif think is None or not think.strip():
            verdicts.append(_Verdict(None, "no_think", exact, cell))
        else:
            verdicts.append(_Verdict(compose_response(it.board_text, think, answer), None, exact, cell))
            todo.append(len(verdicts) - 1)
    if todo:
        rewards, info = env.score([items[i].state for i in todo], [verdicts[i].response for i in todo])
        for j, i in enumerate(todo):
            if rewards[j] > 0:
                continue
            status = str(info["action_status"][j])
            reason = {"unparsable": "unparsable", "illegal": "illegal"}.get(status, "not_rewarded")
            verdicts[i] = _Verdict(None, reason, verdicts[i].teacher_perception_exact, verdicts[i].teacher_cell_acc)
    return verdicts


# -- storage ------------------------------------------------------------------------------------------
def _features() -> Any:
    from datasets import Features, Image, List, Value

    block = {"type": Value("string"), "text": Value("string")}
    message = {"role": Value("string"), "content": List(block)}
    return Features({
        "prompt": List(message),
        "completion": List(message),
        "images": List(Image()),
        "state": Value("binary"),
        "state_id": Value("string"),
        "env_id": Value("string"),
        "env_kwargs": Value("string"),
        "board_text": Value("string"),
        "teacher": Value("string"),
        "attempts": Value("int64"),
        "teacher_perception_exact": Value("bool"),
    })


def _game_dir(spec: GameSpec) -> str:
    """A folder name per game configuration (id without namespace, plus a hash of non-default kwargs)."""
    if not spec.env_kwargs and spec.k is None and spec.obs_mode == "image":
        return spec.key
    digest = hashlib.blake2b(f"{spec.kwargs_json}/{spec.k}/{spec.obs_mode}".encode(), digest_size=4).hexdigest()
    return f"{spec.key}-{digest}"


def _game_seed(spec: GameSpec) -> int:
    """A stable number per game configuration (so adding a game does not change the others' states)."""
    digest = hashlib.blake2b(f"{spec.env_id}/{spec.kwargs_json}/{spec.k}".encode(), digest_size=6).digest()
    return int.from_bytes(digest, "little")


def _write_atomic(path: Path, write: Callable[[Path], Any]) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    write(tmp)
    os.replace(tmp, path)


def _config_record(specs: Sequence[GameSpec], num_states: int, teacher: Teacher, seed: int, chunk_size: int,
                   max_attempts: int, system_prompt: str | None) -> dict[str, Any]:
    return redact({"format": _FORMAT_VERSION, "num_states": int(num_states), "seed": int(seed),
            "chunk_size": int(chunk_size), "max_attempts": int(max_attempts), "system_prompt": system_prompt,
            "teacher": teacher.config(),
            "games": [{"env_id": s.env_id, "env_kwargs": dict(s.env_kwargs), "k": s.k, "obs_mode": s.obs_mode,
                       "dir": _game_dir(s)} for s in specs]})


def _same_build(old: Mapping[str, Any], new: Mapping[str, Any]) -> bool:
    """Whether a saved build can be continued with ``new`` settings (the target size may grow)."""
    keys = ("format", "seed", "chunk_size", "max_attempts", "system_prompt", "games")
    if any(old.get(k) != new.get(k) for k in keys):
        return False
    return bool(old.get("teacher", {}).get("name") == new["teacher"]["name"])


@dataclass
class ColdStartResult:
    """What :func:`build_coldstart_dataset` made: the dataset, its statistics and where they are."""

    dataset: Any
    stats: dict[str, Any]
    path: Path

    @property
    def complete(self) -> bool:
        """Every game reached its target size."""
        return all(g["complete"] for g in self.stats["games"].values())


def _new_stats() -> dict[str, Any]:
    return {"chunks": 0, "states": 0, "requests": 0, "accepted": 0, "rejected": dict.fromkeys(REJECT_REASONS, 0),
            "teacher_perception_exact": 0, "teacher_perception_blocks": 0, "teacher_cell_acc_sum": 0.0,
            "seconds": 0.0}


def _add(total: dict[str, Any], part: Mapping[str, Any]) -> None:
    for k, v in part.items():
        if k == "rejected":
            for r, n in v.items():
                total["rejected"][r] = total["rejected"].get(r, 0) + n
        elif isinstance(v, (int, float)) and not isinstance(v, bool):
            total[k] = total.get(k, 0) + v


def _summary(counts: Mapping[str, Any], target: int, kept: int) -> dict[str, Any]:
    states = counts["states"]
    requests = counts["requests"]
    blocks = counts["teacher_perception_blocks"]
    return {
        "target": target, "examples": kept, "complete": kept >= target,
        "states_sampled": states, "requests": requests, "accepted": counts["accepted"],
        "rejected": {k: v for k, v in counts["rejected"].items() if v},
        "acceptance_rate": counts["accepted"] / states if states else None,
        "answer_acceptance_rate": counts["accepted"] / requests if requests else None,
        "teacher_perception_exact_rate": counts["teacher_perception_exact"] / requests if requests else None,
        "teacher_perception_cell_acc": counts["teacher_cell_acc_sum"] / blocks if blocks else None,
        "chunks": counts["chunks"], "seconds": round(counts["seconds"], 3),
        "states_per_second": round(states / counts["seconds"], 2) if counts["seconds"] else None,
    }


def build_coldstart_dataset(games: GamesLike, num_states: int, out: str | os.PathLike[str], *,
                            teacher: str | Teacher = "oracle", teacher_options: Mapping[str, Any] | None = None,
                            seed: int = 0, chunk_size: int = 64, max_attempts: int | None = None,
                            max_states_factor: float = 10.0, system_prompt: str | None = None,
                            overwrite: bool = False, progress: Callable[[str], None] | None = None) -> ColdStartResult:
    """Build (or continue) a cold-start dataset of ``num_states`` verified examples per game.

    Args:
        games: env ids, :class:`~vlmgym_rl.states.GameSpec` or ``{id: weight}`` (weights are
            ignored: every game gets ``num_states`` examples).
        num_states: examples per game (the paper: about 1,000).
        out: folder of the build (shards, ``stats.json``, ``dataset/``, ``coldstart.parquet``).
        teacher: ``"oracle"``, ``"openai:MODEL"`` or a :class:`Teacher`; ``teacher_options`` are
            passed to :func:`make_teacher`.
        seed: seed of the state sampler (chunk ``c`` of a game depends only on seed, game and ``c``).
        chunk_size: states sampled, answered and saved together (the unit of resumption).
        max_attempts: requests per state (default: the teacher's, 1 for the oracle, 3 for an API).
        max_states_factor: stop a game after sampling this many times ``num_states`` states (a
            teacher that is rarely right would otherwise run for ever); the statistics then say
            ``complete: false``.
        system_prompt: an optional system message in every prompt.
        overwrite: delete a previous build in ``out`` with other settings instead of refusing.
        progress: called with a line of text after every chunk.

    A teacher given by name is created and closed here; a :class:`Teacher` instance is left open.

    A build in ``out`` with the same settings is continued (a larger ``num_states`` extends it);
    one with different settings raises ``ValueError`` unless ``overwrite``.
    """
    from datasets import Dataset, concatenate_datasets

    if isinstance(num_states, bool) or not isinstance(num_states, (int, np.integer)) or num_states < 1:
        raise ValueError(f"num_states must be a positive integer, got {num_states!r}")
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, (int, np.integer)) or chunk_size < 1:
        raise ValueError(f"chunk_size must be a positive integer, got {chunk_size!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    if not max_states_factor >= 1:
        raise ValueError(f"max_states_factor must be >= 1, got {max_states_factor!r}")
    specs = as_game_specs(games)
    sampler = StateSampler(specs, system_prompt=system_prompt)  # validates every game now
    teacher_obj = make_teacher(teacher, **dict(teacher_options or {}))
    owned = not isinstance(teacher, Teacher)  # a teacher made here is closed here; the caller's is not
    attempts = teacher_obj.default_attempts if max_attempts is None else int(max_attempts)
    if attempts < 1:
        raise ValueError(f"max_attempts must be >= 1, got {max_attempts!r}")
    root = Path(out)
    record = _config_record(specs, num_states, teacher_obj, seed, chunk_size, attempts, system_prompt)
    config_path = root / "config.json"
    if config_path.exists():
        old = json.loads(config_path.read_text())
        if not _same_build(old, record):
            if not overwrite:
                if owned:
                    teacher_obj.close()
                sampler.close()
                raise ValueError(f"{root} holds a cold-start build with other settings (games, seed, chunk size, "
                                 "teacher or attempts); choose another folder or pass overwrite=True (--overwrite)")
            import shutil

            shutil.rmtree(root)
    root.mkdir(parents=True, exist_ok=True)
    _write_atomic(config_path, lambda p: p.write_text(json.dumps(record, indent=2)))
    features = _features()
    t_start = time.perf_counter()
    per_game: dict[str, Any] = {}
    parts = []
    total = _new_stats()
    try:
        for i, spec in enumerate(specs):
            ds, summary, counts = _build_game(sampler, i, spec, int(num_states), root / "shards" / _game_dir(spec),
                                      teacher_obj, attempts, int(seed), int(chunk_size), max_states_factor,
                                      features, progress)
            per_game[_game_dir(spec)] = {"env_id": spec.env_id, "env_kwargs": dict(spec.env_kwargs), **summary}
            parts.append(ds)
            _add(total, counts)
            if not summary["complete"]:
                logger.warning("%s: only %d of %d examples after sampling %d states (teacher %s); see stats.json",
                               spec.env_id, summary["examples"], num_states, summary["states_sampled"],
                               teacher_obj.name)
    finally:
        if owned:
            teacher_obj.close()
        sampler.close()
    dataset = concatenate_datasets(parts) if len(parts) > 1 else parts[0]
    order = np.random.default_rng(derive_seed(seed, 1 << 22)).permutation(len(dataset))
    with _quiet():
        dataset = dataset.select(order).flatten_indices()
    stats = {"teacher": redact(teacher_obj.config()), "seed": int(seed), "num_states": int(num_states),
             "examples": len(dataset), "games": per_game,
             "total": _summary(total, int(num_states) * len(specs), len(dataset)),
             "build_seconds": round(time.perf_counter() - t_start, 3)}
    final = root / "dataset"
    if final.exists():
        import shutil

        shutil.rmtree(final)
    tmp = root / f".dataset.{os.getpid()}.tmp"
    with _quiet():
        dataset.save_to_disk(str(tmp))
    os.replace(tmp, final)
    _write_atomic(root / "coldstart.parquet", lambda p: _to_parquet(dataset, p))
    _write_atomic(root / "stats.json", lambda p: p.write_text(json.dumps(stats, indent=2)))
    from datasets import load_from_disk

    result = ColdStartResult(load_from_disk(str(final)), stats, root)
    assert isinstance(result.dataset, Dataset)
    return result


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """No datasets progress bars (one per shard would flood the output)."""
    from datasets.utils import are_progress_bars_disabled, disable_progress_bars, enable_progress_bars

    was_disabled = are_progress_bars_disabled()
    disable_progress_bars()
    try:
        yield
    finally:
        if not was_disabled:
            enable_progress_bars()


def _write_json(data: Any, path: Path) -> None:
    path.write_text(json.dumps(data, indent=2))


def _to_parquet(dataset: Any, path: Path) -> None:
    with _quiet():
        dataset.to_parquet(str(path))


def _read_parquet(path: Path) -> Any:
    """A Parquet file written by :func:`_to_parquet`, in memory (features from its metadata;
    no copy in the datasets cache)."""
    import pyarrow.parquet as pq
    from datasets import Dataset

    return Dataset(pq.read_table(str(path)))


def _build_game(sampler: StateSampler, i: int, spec: GameSpec, target: int, folder: Path, teacher: Teacher,
                attempts: int, seed: int, chunk_size: int, max_factor: float, features: Any,
                progress: Callable[[str], None] | None) -> tuple[Any, dict[str, Any], dict[str, Any]]:
    """Chunks of one game until ``target`` examples (resuming from saved chunks)."""
    from datasets import Dataset, concatenate_datasets

    folder.mkdir(parents=True, exist_ok=True)
    env = gym.make_vec(spec.env_id, num_envs=1, obs_mode="text", action_mode="text", reward_mode="binary",
                       **spec.env_kwargs)
    game_seed = _game_seed(spec)
    kept = 0
    counts = _new_stats()
    seen: set[str] = set()
    shards: list[Any] = []
    try:
        for chunk in range(1 << 30):
            if kept >= target or counts["states"] >= max_factor * target:
                break
            meta_path = folder / f"chunk-{chunk:05d}.json"
            data_path = folder / f"chunk-{chunk:05d}.parquet"
            if meta_path.exists():  # finished before: reuse
                meta = json.loads(meta_path.read_text())
                part = _read_parquet(data_path) if meta["examples"] else None
            else:
                part, meta = _run_chunk(sampler, i, spec, env, teacher, attempts,
                                        derive_seed(seed, game_seed, chunk), chunk_size, seen, features)
                if part is not None:
                    _write_atomic(data_path, functools.partial(_to_parquet, part))
                _write_atomic(meta_path, functools.partial(_write_json, meta))
            seen.update(meta["state_ids"])
            _add(counts, meta["counts"])
            if part is not None:
                shards.append(part)
                kept += len(part)
            if progress is not None:
                c = counts
                progress(f"{spec.env_id}: chunk {chunk}: {min(kept, target)}/{target} examples, "
                         f"{c['accepted']}/{c['requests']} answers accepted, {c['states']} states")
    finally:
        env.close()
    if shards:
        ds = concatenate_datasets(shards) if len(shards) > 1 else shards[0]
        ds = ds.select(range(min(target, len(ds))))
    else:
        ds = Dataset.from_list([], features=features)
    return ds, _summary(counts, target, len(ds)), counts


def _run_chunk(sampler: StateSampler, i: int, spec: GameSpec, env: Any, teacher: Teacher, attempts: int,
               chunk_seed: int, chunk_size: int, seen: set[str], features: Any) -> tuple[Any, dict[str, Any]]:
    """Sample, answer, verify and return the accepted examples of one chunk (in sample order)."""
    from datasets import Dataset

    t0 = time.perf_counter()
    counts = _new_stats()
    counts["chunks"] = 1
    states = sampler.sample(i, chunk_size, chunk_seed)
    rows = sampler.rows(i, states)
    fresh: list[int] = []
    ids: set[str] = set()
    for j, row in enumerate(rows):
        sid = row["state_id"]
        if sid in seen or sid in ids:
            counts["rejected"]["duplicate_state"] += 1
            continue
        ids.add(sid)
        fresh.append(j)
    counts["states"] = len(rows)
    items = [TeacherItem(env_id=spec.env_id, env_kwargs=spec.kwargs_json, state=states[j],
                         board_text=rows[j]["board_text"], prompt_text=_user_text(rows[j]["prompt"]),
                         image=rows[j]["image"], seed=(chunk_seed + j) & 0x7FFFFFFF, env=env) for j in fresh]
    accepted: dict[int, tuple[str, int, bool]] = {}
    pending = list(range(len(items)))
    for attempt in range(attempts):
        if not pending:
            break
        replies = teacher.respond([items[p] for p in pending], attempt)
        if len(replies) != len(pending):
            raise RuntimeError(f"teacher {teacher.name} returned {len(replies)} replies for {len(pending)} states")
        verdicts = _verify(env, [items[p] for p in pending], replies)
        still = []
        for p, v in zip(pending, verdicts):
            if v.reason != "no_rewarded_move":
                counts["requests"] += 1
                counts["teacher_perception_exact"] += int(v.teacher_perception_exact)
                if v.teacher_cell_acc is not None:
                    counts["teacher_perception_blocks"] += 1
                    counts["teacher_cell_acc_sum"] += float(v.teacher_cell_acc)
            if v.response is not None:
                accepted[p] = (v.response, attempt + 1, v.teacher_perception_exact)
                counts["accepted"] += 1
            else:
                counts["rejected"][v.reason or "not_rewarded"] += 1
                if v.reason != "no_rewarded_move":  # a solver's verdict does not change on asking again
                    still.append(p)
        pending = still
    examples = []
    for p in sorted(accepted):
        response, tries, exact = accepted[p]
        row = rows[fresh[p]]
        examples.append({
            "prompt": row["prompt"],
            # (verified as the teacher wrote it; stored without secrets it may have echoed)
            "completion": [{"role": "assistant", "content": [{"type": "text", "text": redact_text(response)}]}],
            "images": [row["image"]],
            "state": row["state"], "state_id": row["state_id"], "env_id": row["env_id"],
            "env_kwargs": row["env_kwargs"], "board_text": row["board_text"], "teacher": teacher.name,
            "attempts": tries, "teacher_perception_exact": exact,
        })
    counts["seconds"] = time.perf_counter() - t0
    meta = {"examples": len(examples), "state_ids": sorted(ids), "counts": counts}
    part = Dataset.from_list(examples, features=features) if examples else None
    return part, meta


def _user_text(prompt: Sequence[Mapping[str, Any]]) -> str:
    """The text of the (last) user message of a conversational prompt."""
    for message in reversed(prompt):
        if message["role"] == "user":
            return "".join(b.get("text") or "" for b in message["content"] if b.get("type") == "text")
    raise ValueError("the prompt has no user message")


def load_coldstart_dataset(path: str | os.PathLike[str]) -> Any:
    """A cold-start dataset from a build folder, its ``dataset/`` folder, a ``save_to_disk`` folder
    or a Parquet file; checked to have the prompt-completion columns with images."""
    from datasets import Dataset, load_from_disk

    p = Path(path)
    if p.is_dir() and (p / "dataset").is_dir():
        p = p / "dataset"
    if p.is_file() and p.suffix == ".parquet":
        ds = _read_parquet(p)
    elif p.is_dir():
        try:
            ds = load_from_disk(str(p))
        except FileNotFoundError as exc:
            raise ValueError(f"{p} is not a saved dataset (build one with vlmgym-rl coldstart): {exc}") from None
    else:
        raise ValueError(f"no cold-start dataset at {p}: give a build folder, a save_to_disk folder or a .parquet file")
    if not isinstance(ds, Dataset):
        raise ValueError(f"{p} holds a {type(ds).__name__}, not a single Dataset")
    missing = [c for c in ("prompt", "completion", "images") if c not in ds.column_names]
    if missing:
        raise ValueError(f"{p} lacks the prompt-completion columns {missing} (has {ds.column_names})")
    return ds
