"""The evaluation loop: every run of every game as one batched step, written step by step.

For each step ``t`` the runner asks every game's vector env for its observations, calls the policy
once with all queries (runs of all games together, so an API policy keeps ``concurrency``
requests busy), steps every vector env with the answers and appends, for every env step, one line
to ``steps.jsonl``; then one line to ``checkpoints.jsonl`` with the snapshot of every env after
step ``t`` (``GameState.to_bytes``, base64) and the vector env's own random generator (it deals
the boards that replace finished games). That line is the commit point of the step:
``--resume`` restores the envs from the last complete checkpoint, drops any later (partial)
lines of ``steps.jsonl`` and continues, so no step is repeated or lost, and the results equal an
uninterrupted run for a deterministic policy.

Output folder::

    config.json         what was evaluated (ids, env kwargs, policy spec and config, seed, versions)
    steps.jsonl         one line per env step (see ``STEP_FIELDS``)
    checkpoints.jsonl   one line per step: env snapshots for --resume and for the videos
    summary.json        per game: per-run metrics and mean/std/min/max; timing
    summary.md          the same as a Markdown table
    curves.png          cumulative reward and protocol metric per run, one column per game
    videos/             one video per run (mp4, or GIF without imageio-ffmpeg)
    report.html         the page to look at: summary, curves, videos, a step browser
    report/             its per-run step data and step images (loaded on demand)
    .lock               held (``flock``) by the process writing the folder: a second
                        ``vlmgym eval`` on the same folder is refused while the first runs

Everything written goes through :mod:`vlmgym.eval.redaction` (no key, URL credential or
secret-looking field reaches a file), and stored answers are cut to ``max_answer_chars``.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from fnmatch import fnmatch
from pathlib import Path
from typing import Any, TextIO

import gymnasium as gym
import numpy as np

from vlmgym.core.answer import format_ok, perception_cell_accuracy, perception_exact
from vlmgym.core.game import Game, game_class
from vlmgym.core.state import GameState
from vlmgym.eval.interface import GenerationConfig, Policy, PolicyError, Query, Reply, query_seed
from vlmgym.eval.policies import make_policy
from vlmgym.eval.records import decode_states, encode_states, jsonable, read_jsonl, step_metric
from vlmgym.eval.redaction import redact, redact_text
from vlmgym.eval.report import write_reports

try:  # POSIX; elsewhere the output folder is not locked
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = ["DEFAULT_MAX_ANSWER_CHARS", "PROTOCOLS", "STEP_FIELDS", "EvalConfig", "EvalResult",
           "EvaluationAborted", "OutputBusy", "Protocol", "evaluate", "primary_metric", "read_jsonl",
           "resolve_env_ids"]

#: Keys of every ``steps.jsonl`` line.
STEP_FIELDS = ("env_id", "run", "step", "episode", "answer", "answer_cut", "action", "status", "parse_error",
               "error",
               "reward", "success", "gain", "score", "perception_exact", "perception_cell_accuracy",
               "format_ok", "terminated", "truncated", "end_reason", "latency_s", "request_bytes",
               "attempts", "usage")

#: Default for :attr:`EvalConfig.max_answer_chars`.
DEFAULT_MAX_ANSWER_CHARS = 65_536
_LOCK_NAME = ".lock"


@dataclass(frozen=True)
class Protocol:
    """A comparison protocol: fixed runs x steps, and whether each game's paper warm-up applies."""

    name: str
    runs: int | None
    steps: int | None
    game_warmup: bool  # random steps before the policy plays: the game's paper_warmup_steps (else 0)
    description: str
    #: policy specs the protocol reads its own way (paper: its random baseline samples like the
    #: original scripts); the spec actually played is recorded in config.json
    policies: dict[str, str] = field(default_factory=dict)


PROTOCOLS: dict[str, Protocol] = {
    "paper": Protocol(
        "paper", 10, 100, True,
        "G1 paper: 10 parallel runs x 100 steps; each game starts after its paper warm-up of random "
        "steps (2048: 100) and counts its metric (2048: the summed merge score of the 100 steps; tile "
        "games: successful moves; cleared or stuck boards are replaced and play goes on); the random "
        "baseline samples like the original scripts (random-paper)",
        policies={"random": "random-paper"}),
    "custom": Protocol("custom", None, None, False, "runs, steps and warm-up as given"),
}


def primary_metric(game: Game | str) -> str:
    """The protocol metric a game declares (``Game.metric``: e.g. ``score_gain`` for 2048,
    ``successes`` for the tile games); ``game`` is a game or a registered game name."""
    cls = game_class(game) if isinstance(game, str) else game
    return cls.metric


class EvaluationAborted(RuntimeError):
    """Every request of a step failed (endpoint down?): nothing of that step was recorded."""


class OutputBusy(ValueError):
    """Another process is writing the output folder."""


@dataclass
class EvalConfig:
    """What to evaluate and where to write it.

    ``vlmgym eval`` builds its options from these fields and their descriptions (one option per
    field, same default); ``env_ids`` and ``env_kwargs`` are its positional arguments,
    ``policy_kwargs`` its ``--policy-arg`` and endpoint options, ``generation`` the
    :class:`GenerationConfig` options.

    Attributes:
        env_ids: registered ids (glob patterns such as ``VLMGym/Shisensho*`` expand).
        policy: ``random`` (``random-paper`` under ``--protocol paper``), ``random-paper``,
            ``random-legal``, ``oracle``, ``openai:MODEL``, ``vllm:PATH``, ``hf:PATH``,
            ``module:function`` or ``path/to/file.py:function``; see
            :func:`~vlmgym.eval.policies.make_policy`.
        runs: parallel runs per game (the vector env's batch size).
        steps: policy steps per run.
        protocol: ``paper``: the G1 paper's comparison protocol (fixes 10 runs x 100 steps;
            2048 starts after 100 random steps); ``custom``: runs, steps and warm-up as given.
        warmup_steps: random steps before the policy plays (custom protocol; when not given:
            the protocol's, 0 for custom).
        seed: env ``i`` of each game is reset with ``seed + i``; also seeds the policy.
        env_kwargs: kwargs for every game's env (``obs_mode``, board size, ...).
        policy_kwargs: policy options (``base_url``, ``concurrency``, ``batch_size``, ...).
        generation: sampling settings for model policies (:class:`GenerationConfig` fields).
        out: output folder (when not given: ``runs/eval/<policy>-<time>``).
        resume: continue the interrupted evaluation in the output folder.
        video: write a video of every run.
        curves: plot cumulative reward and metric per run to ``curves.png``.
        progress: show a progress bar.
        html: write ``report.html``, the page with the summary, curves, videos and a step browser.
        step_images: store the images the policy saw for the step browser of ``report.html``.
        max_answer_chars: most characters of an answer stored in ``steps.jsonl``; a longer one
            keeps its first and last halves around a marker, and ``answer_cut`` counts what was
            cut (scoring always uses the whole answer).
    """

    env_ids: list[str]
    policy: str = "random"
    runs: int = 10
    steps: int = 100
    protocol: str = "custom"
    warmup_steps: int | None = None
    seed: int = 0
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    policy_kwargs: dict[str, Any] = field(default_factory=dict)
    generation: dict[str, Any] = field(default_factory=dict)
    out: str | None = None
    resume: bool = False
    video: bool = True
    curves: bool = True
    html: bool = True
    step_images: bool = True
    progress: bool = True
    max_answer_chars: int = DEFAULT_MAX_ANSWER_CHARS

    def identity(self) -> dict[str, Any]:
        """The fields that define the results (must match to ``--resume``)."""
        return {"env_ids": list(self.env_ids), "policy": self.policy, "runs": self.runs,
                "steps": self.steps, "protocol": self.protocol, "warmup_steps": self.warmup_steps,
                "seed": self.seed, "env_kwargs": jsonable(self.env_kwargs),
                "generation": jsonable(self.generation)}


@dataclass
class EvalResult:
    """What :func:`evaluate` returns: the output folder, the summary and this session's timing."""

    out: Path
    summary: dict[str, Any]
    steps_done: int
    resumed_from: int
    timing: dict[str, float] | None


# -- helpers ----------------------------------------------------------------------------------
def _cut(text: str, limit: int) -> tuple[str, int]:
    """``text`` within ``limit`` characters (its first and last halves around a marker, where the
    perception and the answer of a long response are) and how many characters were cut."""
    if len(text) <= limit:
        return text, 0
    cut = len(text) - limit
    head, tail = text[: (limit + 1) // 2], text[len(text) - limit // 2:]
    return f"{head}\n[... vlmgym: {cut} characters cut ...]\n{tail}", cut


def resolve_env_ids(patterns: Sequence[str]) -> list[str]:
    """Expand glob patterns against the registered ids; unknown ids raise with suggestions."""
    import difflib

    import vlmgym

    known = vlmgym.registered_ids(include_user=True)
    out: list[str] = []
    for pattern in patterns:
        if any(c in pattern for c in "*?["):
            hits = [k for k in known if fnmatch(k, pattern)]
            if not hits:
                raise ValueError(f"no environment id matches {pattern!r}; known ids: {', '.join(known)}")
        elif pattern in known or pattern in gym.registry:  # other ids are refused with a clear message later
            hits = [pattern]
        else:
            close = difflib.get_close_matches(pattern, known, n=3, cutoff=0.4)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise ValueError(f"unknown environment id {pattern!r}{hint} Known ids: {', '.join(known)} "
                             "(`vlmgym list` shows them)")
        out += [h for h in hits if h not in out]
    if not out:
        raise ValueError("give at least one environment id (`vlmgym list` shows them)")
    return out


def package_versions() -> dict[str, str]:
    """Versions of the packages that shape the results (installed ones only)."""
    from importlib import metadata

    out = {"python": sys.version.split()[0]}
    for name in ("vlmgym", "gymnasium", "numpy", "pillow", "torch", "transformers", "vllm", "trl"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


# -- one game: a vector env with all its runs -------------------------------------------------
class _GameRun:
    def __init__(self, env_id: str, config: EvalConfig, protocol: Protocol):
        from vlmgym.envs.vector import VLMGymVectorEnv

        self.env_id = env_id
        if config.env_kwargs.get("action_mode", "text") != "text":
            raise ValueError("the harness sends the policy's answers as text: action_mode must be 'text'")
        try:
            vec = gym.make_vec(env_id, num_envs=config.runs, **config.env_kwargs)
        except gym.error.Error as exc:
            raise ValueError(f"{env_id}: {exc}") from None
        if not isinstance(vec, VLMGymVectorEnv):
            vec.close()
            raise ValueError(f"{env_id} is not a vlmgym environment (its vector env is {type(vec).__name__})")
        if vec.autoreset_mode != gym.vector.AutoresetMode.SAME_STEP:
            vec.close()
            raise ValueError("the harness plays every answer and replaces finished boards within the step: "
                             "autoreset_mode must be 'same_step' (NEXT_STEP would ignore the answer given "
                             "after each finished board, DISABLED would leave the board finished)")
        self.vec = vec
        self.game = vec.game
        spec = gym.spec(env_id)
        self.env_kwargs = {**spec.kwargs, **config.env_kwargs}
        if spec.max_episode_steps is not None:
            self.env_kwargs.setdefault("max_episode_steps", spec.max_episode_steps)
        if config.warmup_steps is not None:
            self.warmup = int(config.warmup_steps)
        else:
            self.warmup = self.game.paper_warmup_steps if protocol.game_warmup else 0
        self.metric = primary_metric(self.game)
        self.seed = config.seed
        n = config.runs
        self.episode = np.zeros(n, dtype=np.int64)
        self.states: list[GameState] = []
        self.obs: Any = None
        self.info: dict[str, Any] = {}

    def start(self) -> None:
        self.vec.reset(seed=self.seed)
        if self.warmup:
            self.vec.random_steps(self.warmup)
        self._observe()

    def _observe(self) -> None:
        self.obs, self.info = self.vec.observe()
        self.states = self.vec.get_states()

    def checkpoint(self) -> dict[str, Any]:
        return {"states": encode_states(self.states), "rng": self.vec.get_rng_state(),
                "episode": self.episode.tolist()}

    def restore(self, cp: dict[str, Any]) -> None:
        self.vec.reset(seed=self.seed)
        self.vec.set_states(decode_states(cp["states"]))
        if "rng" not in cp:  # written before each env had its own generator of new games
            raise ValueError(f"{self.env_id}: this checkpoint comes from an older vlmgym that did not save each "
                             "env's generator of new games, so a resumed run would not continue exactly: resume "
                             "it with the vlmgym version that started it, or start a new evaluation")
        self.vec.set_rng_state(cp["rng"])
        self.episode = np.asarray(cp["episode"], dtype=np.int64)
        self._observe()

    def queries(self, step: int) -> list[Query]:
        obs = self.obs
        out = []
        for i in range(self.vec.num_envs):
            if isinstance(obs, dict):
                image, text = obs["image"][i], obs["text"][i]
            elif isinstance(obs, tuple):
                image, text = None, obs[i]
            else:
                image, text = obs[i], None
            out.append(Query(env_id=self.env_id, run=i, step=step, prompt=self.info["prompt"][i],
                             image=image, text=text, seed=query_seed(self.seed, self.env_id, i, step),
                             state=self.states[i], env=self.vec))
        return out

    def apply(self, replies: Sequence[Reply], step: int, max_answer_chars: int) -> list[dict[str, Any]]:
        seen = self.info["board_text"]
        answers = [r.text if r.text is not None else "" for r in replies]
        obs, reward, terminated, truncated, info = self.vec.step(answers)
        done = terminated | truncated
        final = info.get("final_info")
        codec = self.game.codec
        records = []
        for i, r in enumerate(replies):
            text = r.text
            if done[i] and final is not None:
                score, end_reason = final["score"][i], final["end_reason"][i]
            else:
                score, end_reason = info["score"][i], info["end_reason"][i]
            if truncated[i] and end_reason is None:
                end_reason = "time_limit"
            # the answer was scored whole; it is stored redacted and within max_answer_chars
            stored, cut = (None, None) if text is None else _cut(redact_text(text), max_answer_chars)
            parse_error = None if r.failed else info.get("parse_error", [None] * len(answers))[i]
            records.append({
                "env_id": self.env_id, "run": i, "step": step, "episode": int(self.episode[i]),
                "answer": stored,
                "answer_cut": cut,
                "action": None if info["action"][i] is None else codec.to_json(info["action"][i]),
                "status": "request_failed" if r.failed else str(info["action_status"][i]),
                "parse_error": None if parse_error is None else redact_text(str(parse_error)),
                "error": None if r.error is None else redact_text(str(r.error)),
                "reward": float(reward[i]),
                "success": bool(info["success"][i]),
                "gain": int(info["gain"][i]),
                "score": int(score),
                "perception_exact": None if text is None else perception_exact(text, seen[i]),
                "perception_cell_accuracy": None if text is None else round(perception_cell_accuracy(text, seen[i]), 6),
                "format_ok": None if text is None else format_ok(text),
                "terminated": bool(terminated[i]),
                "truncated": bool(truncated[i]),
                "end_reason": end_reason,
                "latency_s": None if r.latency_s is None else round(float(r.latency_s), 6),
                "request_bytes": r.request_bytes,
                "attempts": r.attempts,
                "usage": r.usage,
            })
        self.episode += done
        # the step's observations and info already describe the next boards (replaced ones too)
        self.obs, self.info = obs, info
        self.states = self.vec.get_states()
        return records

    def close(self) -> None:
        self.vec.close()


# -- progress ---------------------------------------------------------------------------------
class _Progress:
    """tqdm when installed (and wanted), else a line every ~10% of the steps on stderr."""

    def __init__(self, total: int, initial: int, enabled: bool):
        self.total, self.done = total, initial
        self.enabled = enabled
        self.bar = None
        self.start = time.perf_counter()
        if enabled:
            try:
                from tqdm import tqdm

                self.bar = tqdm(total=total, initial=initial, unit="step", desc="vlmgym eval",
                                dynamic_ncols=True, file=sys.stderr)
            except ImportError:
                self.bar = None

    def update(self, postfix: str) -> None:
        self.done += 1
        if not self.enabled:
            return
        if self.bar is not None:
            self.bar.set_postfix_str(postfix, refresh=False)
            self.bar.update(1)
            return
        every = max(1, self.total // 10)
        if self.done % every == 0 or self.done == self.total:
            elapsed = time.perf_counter() - self.start
            print(f"vlmgym eval: step {self.done}/{self.total}  {postfix}  ({elapsed:.1f}s)",
                  file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


class _Totals:
    """Running per-game sums for the live progress line."""

    def __init__(self, games: Sequence[_GameRun], runs: int):
        self.reward = 0.0
        self.count = 0
        self.metric = {g.env_id: np.zeros(runs) for g in games}
        self.names = {g.env_id: g.metric for g in games}

    def add(self, rec: dict[str, Any]) -> None:
        self.reward += rec["reward"]
        self.count += 1
        name = self.names[rec["env_id"]]
        self.metric[rec["env_id"]][rec["run"]] += step_metric(rec, name)

    def postfix(self) -> str:
        parts = [f"reward={self.reward / max(self.count, 1):+.3f}"]
        for env_id, values in self.metric.items():
            short = env_id.split("/")[-1]
            parts.append(f"{short}={values.mean():.1f}")
        return " ".join(parts)


# -- the loop ---------------------------------------------------------------------------------
def _normalize(replies: Any, n: int, policy: Policy) -> list[Reply]:
    if not isinstance(replies, (list, tuple)):
        raise PolicyError(f"policy {policy.name} must return a list of answers, got {type(replies).__name__}")
    if len(replies) != n:
        raise PolicyError(f"policy {policy.name} returned {len(replies)} answers for {n} queries")
    out = []
    for r in replies:
        if isinstance(r, Reply):
            out.append(r)
        elif isinstance(r, str):
            out.append(Reply(text=r))
        else:
            raise PolicyError(f"policy {policy.name} returned a {type(r).__name__}; answers must be str or Reply")
    return out


def _default_out(policy: str) -> Path:
    slug = "".join(c if c.isalnum() or c in "-._" else "-" for c in policy).strip("-")[:60] or "policy"
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    return Path("runs") / "eval" / f"{slug}-{stamp}"


def _apply_protocol(config: EvalConfig) -> Protocol:
    if config.protocol not in PROTOCOLS:
        raise ValueError(f"protocol must be one of {', '.join(PROTOCOLS)}; got {config.protocol!r}")
    protocol = PROTOCOLS[config.protocol]
    for name in ("runs", "steps", "max_answer_chars"):
        value = getattr(config, name)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    if config.warmup_steps is not None and (not isinstance(config.warmup_steps, int) or config.warmup_steps < 0):
        raise ValueError(f"warmup_steps must be a non-negative integer, got {config.warmup_steps!r}")
    if protocol.runs is not None and (config.runs, config.steps) != (protocol.runs, protocol.steps):
        raise ValueError(f"--protocol {protocol.name} fixes {protocol.runs} runs x {protocol.steps} steps; "
                         f"got {config.runs} x {config.steps} (use --protocol custom to change them)")
    config.policy = protocol.policies.get(config.policy, config.policy)
    if protocol.name == "paper" and config.warmup_steps is not None:
        raise ValueError("--protocol paper fixes the warm-up (each game's paper warm-up: 2048 100 random "
                         "steps, tile games 0); use --protocol custom with --warmup-steps")
    return protocol


def evaluate(config: EvalConfig, policy: Policy | None = None) -> EvalResult:
    """Run (or resume) an evaluation and write every output; see the module docstring.

    ``policy`` overrides ``config.policy`` with an object (its ``name`` is recorded).
    Raises ``ValueError`` for bad input, :class:`EvaluationAborted` when a whole step failed,
    and lets ``KeyboardInterrupt`` through after flushing (resume later with ``resume=True``).
    """
    config.env_ids = resolve_env_ids(config.env_ids)
    protocol = _apply_protocol(config)
    generation = GenerationConfig(**config.generation)
    if policy is None:
        policy = make_policy(config.policy, seed=config.seed, generation=generation, **config.policy_kwargs)
    else:
        config.policy = getattr(policy, "name", type(policy).__name__)
    out = Path(config.out) if config.out else _default_out(config.policy)
    config.out = str(out)
    games: list[_GameRun] = []
    try:
        for env_id in config.env_ids:
            games.append(_GameRun(env_id, config, protocol))
        with _exclusive(out, create=not config.resume):
            start_step = _prepare(out, config, protocol, policy, games)
            timing = _run(out, config, policy, games, start_step)
            summary = write_reports(out, video=config.video, curves=config.curves, html=config.html,
                                    step_images=config.step_images, timing=timing)
    finally:
        for g in games:
            g.close()
        policy.close()
    return EvalResult(out=out, summary=summary, steps_done=config.steps, resumed_from=start_step,
                      timing=timing)


@contextlib.contextmanager
def _exclusive(out: Path, create: bool) -> Iterator[None]:
    """Hold an exclusive lock on ``out`` (``flock`` on ``out/.lock``) while writing it.

    The kernel releases the lock when its process ends, however it ends, so the lock file of a
    killed run never blocks a later ``--resume``.
    """
    if fcntl is None or not (create or out.is_dir()):
        yield  # (a resume of a folder that does not exist is refused by _prepare)
        return
    out.mkdir(parents=True, exist_ok=True)
    with open(out / _LOCK_NAME, "a+", encoding="utf-8") as fh:  # closing it releases the lock
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            holder = fh.read().strip() or "another process"
            raise OutputBusy(f"{out} is being written by another vlmgym eval ({holder}); wait for it to "
                             "finish or stop it before --resume, or choose another --out") from None
        fh.seek(0)
        fh.truncate()
        fh.write(f"pid {os.getpid()} on {socket.gethostname()}, since "
                 f"{datetime.now(timezone.utc).isoformat(timespec='seconds')}\n")
        fh.flush()
        yield


def _prepare(out: Path, config: EvalConfig, protocol: Protocol, policy: Policy,
             games: list[_GameRun]) -> int:
    """Create a fresh folder, or validate and restore an interrupted one; the step to continue from."""
    config_path = out / "config.json"
    if config.resume:
        if not config_path.exists():
            raise ValueError(f"nothing to resume in {out}: no config.json (start without --resume)")
        saved = json.loads(config_path.read_text())
        mine = redact(jsonable(config.identity()))  # (compared as recorded)
        diff = sorted(k for k in mine if saved["identity"].get(k) != mine[k])
        if diff:
            details = "; ".join(f"{k}: saved {saved['identity'].get(k)!r}, now {mine[k]!r}" for k in diff)
            raise ValueError(f"cannot resume {out}: the evaluation differs ({details})")
        checkpoints = read_jsonl(out / "checkpoints.jsonl")
        if checkpoints:
            last = checkpoints[-1]
            by_id = last["games"]
            for g in games:
                g.restore(by_id[g.env_id])
            step = int(last["step"])
            _rewrite_jsonl(out / "checkpoints.jsonl", checkpoints)
            kept = [r for r in read_jsonl(out / "steps.jsonl") if r["step"] <= step]
            _rewrite_jsonl(out / "steps.jsonl", kept)
            return step
        for g in games:  # interrupted before the first checkpoint: start over in place
            g.start()
        _rewrite_jsonl(out / "steps.jsonl", [])
        _write_checkpoint(out, 0, games, mode="w")
        return 0
    if out.exists() and any(p.name != _LOCK_NAME for p in out.iterdir()):
        raise ValueError(f"{out} already holds results; pass --resume to continue it or choose another --out")
    out.mkdir(parents=True, exist_ok=True)
    record = {
        "identity": jsonable(config.identity()),  # (redacted with the whole record below)
        "protocol": {"name": protocol.name, "description": protocol.description,
                     "policies": dict(protocol.policies)},
        "games": {g.env_id: {"game": g.game.name, "env_kwargs": jsonable(g.env_kwargs),
                             "warmup_steps": g.warmup, "metric": g.metric} for g in games},
        "policy": jsonable(policy.config()),
        "policy_kwargs": jsonable(config.policy_kwargs),
        "max_answer_chars": config.max_answer_chars,
        "versions": package_versions(),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    config_path.write_text(json.dumps(redact(record), indent=2) + "\n")
    for g in games:
        g.start()
    (out / "steps.jsonl").write_text("")
    _write_checkpoint(out, 0, games, mode="w")
    return 0


def _rewrite_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, separators=(",", ":")) + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _checkpoint_line(step: int, games: list[_GameRun]) -> str:
    return json.dumps({"step": step, "games": {g.env_id: g.checkpoint() for g in games}},
                      separators=(",", ":")) + "\n"


def _write_checkpoint(out: Path, step: int, games: list[_GameRun], mode: str = "a") -> None:
    with open(out / "checkpoints.jsonl", mode, encoding="utf-8") as fh:
        fh.write(_checkpoint_line(step, games))


def _play_step(step: int, out: Path, policy: Policy, games: list[_GameRun], totals: _Totals,
               steps_fh: TextIO, cps_fh: TextIO, max_answer_chars: int) -> float:
    """One batched step of every game; returns the seconds spent in the policy."""
    queries: list[Query] = []
    spans = []
    for g in games:
        q = g.queries(step)
        spans.append((g, len(queries), len(queries) + len(q)))
        queries += q
    p0 = time.perf_counter()
    raw = policy(queries)
    elapsed = time.perf_counter() - p0
    replies = _normalize(raw, len(queries), policy)
    for r in replies:
        if r.latency_s is None:
            r.latency_s = elapsed
    if all(r.failed for r in replies):
        raise EvaluationAborted(
            f"every request of step {step} failed (first error: {redact_text(str(replies[0].error))}); nothing of "
            f"this step was recorded. Fix the endpoint and continue with --resume --out {out}")
    lines = []
    for g, a, b in spans:
        for rec in g.apply(replies[a:b], step, max_answer_chars):
            totals.add(rec)
            lines.append(json.dumps(rec, separators=(",", ":")))
    steps_fh.write("\n".join(lines) + "\n")
    steps_fh.flush()
    cps_fh.write(_checkpoint_line(step, games))  # the commit point of this step
    cps_fh.flush()
    return elapsed


def _run(out: Path, config: EvalConfig, policy: Policy, games: list[_GameRun],
         start: int) -> dict[str, float] | None:
    totals = _Totals(games, config.runs)
    for rec in read_jsonl(out / "steps.jsonl"):
        totals.add(rec)
    progress = _Progress(config.steps, start, config.progress)
    policy_s = 0.0
    t0 = time.perf_counter()
    with open(out / "steps.jsonl", "a", encoding="utf-8") as steps_fh, \
            open(out / "checkpoints.jsonl", "a", encoding="utf-8") as cps_fh:
        try:
            for step in range(start + 1, config.steps + 1):
                policy_s += _play_step(step, out, policy, games, totals, steps_fh, cps_fh, config.max_answer_chars)
                progress.update(totals.postfix())
        finally:
            progress.close()
    wall = time.perf_counter() - t0
    played = (config.steps - start) * config.runs * len(games)
    if not played:
        return None
    return {"wall_s": wall, "policy_s": policy_s, "overhead_s": wall - policy_s,
            "env_steps": float(played),
            "overhead_per_env_step_ms": 1e3 * (wall - policy_s) / played if played else 0.0}


def config_from_json(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The identity block of a saved ``config.json`` (to resume without repeating options)."""
    return dict(json.loads(Path(path).read_text())["identity"])

