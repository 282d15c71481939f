"""Command line: vlmgym <command> (or python -m vlmgym <command>).

Commands:
    eval      evaluate a policy (random, oracle, an OpenAI-compatible endpoint, vLLM, transformers,
              or your own module:function) on one or more games; see docs/evaluation.md
    compare   leaderboard of evaluation folders: Markdown table, bar chart, HTML page
    play      play a game yourself in a window (pip install 'vlmgym[play]')
    bench     run the benchmarks in benchmarks/ and print their tables
    list      list registered environment ids (--all: also ids of your own, e.g. --import MODULE)
    rollout   play a short random-policy rollout and save the board images
"""

# The docstring above is printed by `vlmgym --help`: plain text, no reST markup.
from __future__ import annotations

import argparse
import dataclasses
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from vlmgym.cli_options import add_field_options, given_options, option_name
from vlmgym.version import __version__

__all__ = ["build_parser", "main", "parse_env_kwargs"]


class UsageError(ValueError):
    """Bad command-line input (exit status 2)."""


def parse_env_kwargs(pairs: list[str], what: str = "env kwargs") -> dict[str, Any]:
    """``["size=5", "colors=[\\"Red\\"]"]`` -> kwargs; values are JSON when they parse, else strings."""
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.isidentifier():
            raise UsageError(f"{what} must look like name=value, got {pair!r}")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


def _import_modules(args: argparse.Namespace) -> None:
    """``--import MODULE`` (repeatable): modules that register games and ids of their own."""
    from vlmgym.plugins import import_user_module

    for name in getattr(args, "imports", None) or []:
        try:
            import_user_module(name)
        except ImportError as exc:
            raise UsageError(f"--import {name}: cannot import it ({exc})") from None


# -- list / rollout -------------------------------------------------------------------------------
def _cmd_list(args: argparse.Namespace) -> int:
    import gymnasium as gym

    import vlmgym

    for env_id in vlmgym.registered_ids(include_user=args.all):
        spec = gym.spec(env_id)
        extra = f"  max_episode_steps={spec.max_episode_steps}" if spec.max_episode_steps else ""
        print(f"{env_id:40s} {spec.kwargs}{extra}")
    return 0


def _cmd_rollout(args: argparse.Namespace) -> int:
    import gymnasium as gym
    import numpy as np
    from PIL import Image

    import vlmgym  # noqa: F401

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    env = gym.make(args.env_id, **parse_env_kwargs(args.kwargs))
    obs, info = env.reset(seed=args.seed)
    core: Any = env.unwrapped
    game = core.game
    rng = np.random.default_rng(args.seed)
    Image.fromarray(_image(obs)).save(out / "step_000.png")
    total = 0.0
    for t in range(1, args.steps + 1):
        legal = np.flatnonzero(core.legal_actions())
        pick = int(rng.choice(legal)) if len(legal) else int(rng.integers(game.num_actions))
        action = game.from_array(game.decode(np.array([pick]))[0])
        obs, reward, terminated, truncated, info = env.step(f"<answer>{game.format_answer(action)}</answer>")
        total += float(reward)
        Image.fromarray(_image(obs)).save(out / f"step_{t:03d}.png")
        if terminated or truncated:
            break
    (out / "board.txt").write_text(info["board_text"] + "\n")
    print(f"{args.env_id}: {t} random legal moves, total reward {total:+.0f}, score {info['score']}")
    print(f"images in {out}/ (last: step_{t:03d}.png); board text in {out / 'board.txt'}")
    return 0


def _image(obs: Any) -> Any:
    return obs["image"] if isinstance(obs, dict) else obs


# -- eval -----------------------------------------------------------------------------------------
_OPENAI_OPTIONS = ("base_url", "api_key_env", "concurrency", "timeout", "retries")
#: EvalConfig fields that are not options of their own: the positional targets (ids and
#: name=value env kwargs), --policy-arg plus the endpoint options, and the GenerationConfig options.
_NOT_OPTIONS = ("env_ids", "env_kwargs", "policy_kwargs", "generation")


def _split_targets(targets: list[str]) -> tuple[list[str], dict[str, Any]]:
    ids = [t for t in targets if "=" not in t]
    kwargs = parse_env_kwargs([t for t in targets if "=" in t])
    return ids, kwargs


def eval_config_from_args(args: argparse.Namespace) -> Any:
    """Turn parsed ``vlmgym eval`` arguments into an :class:`~vlmgym.eval.EvalConfig`.

    Options not given take the ``EvalConfig`` defaults; with ``--resume`` the saved
    configuration fills them instead, and options that were given must agree with it (checked
    when the evaluation starts).
    """
    from vlmgym.eval.policies import GenerationConfig
    from vlmgym.eval.runner import EvalConfig, config_from_json

    ids, env_kwargs = _split_targets(args.targets)
    policy_kwargs = parse_env_kwargs(args.policy_arg or [], "--policy-arg")
    options = given_options(args, EvalConfig)
    generation = given_options(args, GenerationConfig)
    saved: dict[str, Any] = {}
    if options.get("resume"):
        if not options.get("out"):
            raise UsageError("--resume needs --out DIR (the folder of the evaluation to continue)")
        path = Path(options["out"]) / "config.json"
        if not path.exists():
            raise UsageError(f"nothing to resume in {options['out']}: no config.json")
        saved = config_from_json(path)
        generation = {**saved.get("generation", {}), **generation}
        env_kwargs = {**saved.get("env_kwargs", {}), **env_kwargs}
    elif not ids:
        raise UsageError("give at least one environment id, e.g. vlmgym eval VLMGym/2048-v0 "
                         "(`vlmgym list` shows them)")
    own_options = {f.name for f in dataclasses.fields(EvalConfig)} - set(_NOT_OPTIONS)
    resumed = {k: v for k, v in saved.items() if k in own_options}
    config = EvalConfig(env_ids=ids or saved.get("env_ids", []), env_kwargs=env_kwargs, **{**resumed, **options})
    policy = config.policy
    for name in _OPENAI_OPTIONS:
        value = getattr(args, name)
        if value is not None:
            if not policy.startswith("openai:"):
                raise UsageError(f"{option_name(name)} applies to openai:MODEL policies only")
            policy_kwargs[name] = value
    if generation and policy in ("random", "random-paper", "random-legal", "oracle"):
        raise UsageError(f"{', '.join(option_name(k) for k in generation)} do not apply to {policy!r}")
    config.policy_kwargs = policy_kwargs
    config.generation = vars(GenerationConfig(**generation)) if not policy.startswith(("random", "oracle")) else {}
    return config


def _cmd_eval(args: argparse.Namespace) -> int:
    from vlmgym.eval.redaction import redact_text
    from vlmgym.eval.runner import EvaluationAborted, evaluate

    config = eval_config_from_args(args)
    try:
        result = evaluate(config)
    except EvaluationAborted as exc:
        print(f"vlmgym eval: stopped: {redact_text(str(exc))}", file=sys.stderr)
        return 3
    except KeyboardInterrupt:
        print(f"\nvlmgym eval: interrupted; results so far are in {config.out}. Continue with:\n"
              f"  vlmgym eval --resume --out {config.out}", file=sys.stderr)
        return 130
    except (ValueError, TypeError, FileNotFoundError):
        raise  # bad input, reported by main()
    except Exception:
        if config.out and (Path(config.out) / "checkpoints.jsonl").exists():
            print(f"vlmgym eval: failed; the steps so far are saved in {config.out} (continue with "
                  f"`vlmgym eval --resume --out {config.out}` once fixed)", file=sys.stderr)
        raise
    out = result.out
    print((out / "summary.md").read_text())
    files = ["steps.jsonl", "summary.json", "summary.md"]
    files += [f for f in ("curves.png", "report.html") if (out / f).exists()]
    if (out / "videos").is_dir():
        files.append("videos/")
    print(f"results in {out}/: {', '.join(files)}")
    if not result.summary["complete"]:
        return 1
    return 0


# -- compare --------------------------------------------------------------------------------------
def _cmd_compare(args: argparse.Namespace) -> int:
    from vlmgym.eval.compare import build_leaderboard, load_reference, markdown, write_leaderboard

    reference = load_reference(args.reference) if args.reference else None
    board = build_leaderboard(args.run_dirs, labels=args.label, reference=reference)
    written = write_leaderboard(board, args.out, chart=not args.no_chart)
    print(markdown(board))
    for name, why in written["skipped"].items():
        print(f"vlmgym compare: {name} skipped: {why}", file=sys.stderr)
    print(f"leaderboard in {args.out}/: {', '.join(p.name for p in written['files'])}")
    return 0


# -- play -----------------------------------------------------------------------------------------
def _cmd_play(args: argparse.Namespace) -> int:
    from vlmgym.play import play

    ids, env_kwargs = _split_targets(args.targets)
    if len(ids) != 1:
        raise UsageError("give exactly one environment id, e.g. vlmgym play VLMGym/2048-v0")
    try:
        return play(ids[0], seed=args.seed, scale=args.scale, **env_kwargs)
    except RuntimeError as exc:  # no display
        print(f"vlmgym play: error: {exc}", file=sys.stderr)
        return 2


# -- bench ----------------------------------------------------------------------------------------
def find_benchmarks(directory: str | None = None) -> list[Path]:
    """``bench_*.py`` scripts in ``directory``, ``./benchmarks`` or the source checkout's."""
    import vlmgym

    candidates = [Path(directory)] if directory else [
        Path.cwd() / "benchmarks", Path(vlmgym.__file__).resolve().parents[2] / "benchmarks"]
    for c in candidates:
        if c.is_dir():
            found = sorted(c.glob("bench_*.py"))
            if found or directory:
                return found
    raise UsageError("no benchmarks/ folder found: run `vlmgym bench` from a source checkout of vlmgym "
                     "or pass --dir PATH")


def _cmd_bench(args: argparse.Namespace) -> int:
    scripts = find_benchmarks(args.dir)
    if args.k:
        scripts = [s for s in scripts if args.k in s.stem]
    if not scripts:
        raise UsageError(f"no benchmark matches {args.k!r}" if args.k else "no bench_*.py scripts found")
    if args.list:
        for s in scripts:
            print(s)
        return 0
    failed = []
    for s in scripts:
        print(f"<!-- {s.name} -->", flush=True)
        start = time.perf_counter()
        proc = subprocess.run([sys.executable, str(s)], cwd=s.parent.parent)
        took = time.perf_counter() - start
        print(f"<!-- {s.name}: exit {proc.returncode}, {took:.1f} s -->\n", flush=True)
        if proc.returncode != 0:
            failed.append(s.name)
    if failed:
        print(f"vlmgym bench: failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


# -- parser ---------------------------------------------------------------------------------------
def _import_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--import", dest="imports", action="append", metavar="MODULE",
                   help="import MODULE first (repeatable): a module that registers games and ids of its own")


def build_parser() -> argparse.ArgumentParser:
    from vlmgym.eval.policies import GenerationConfig
    from vlmgym.eval.runner import PROTOCOLS, EvalConfig

    parser = argparse.ArgumentParser(prog="vlmgym", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"vlmgym {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser(
        "eval", help="evaluate a policy on one or more games",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Evaluate a policy: every run of every game steps together as one batch.",
        epilog="examples:\n"
               "  vlmgym eval VLMGym/2048-v0 --policy random --protocol paper\n"
               "  vlmgym eval VLMGym/2048-v0 --policy oracle --runs 4 --steps 50 obs_mode=image+text\n"
               "  OPENAI_API_KEY=EMPTY vlmgym eval VLMGym/2048-v0 --policy openai:Qwen/Qwen2.5-VL-7B-Instruct "
               "--base-url http://127.0.0.1:8000/v1 --protocol paper\n"
               "  vlmgym eval --resume --out runs/eval/my-run\n"
               "see docs/evaluation.md")
    p.add_argument("targets", nargs="*", metavar="ENV_ID|name=value",
                   help="environment ids (glob patterns allowed) and env kwargs as name=value (JSON values)")
    add_field_options(p, EvalConfig, skip=_NOT_OPTIONS, choices={"protocol": list(PROTOCOLS)},
                      metavars={"policy": "POLICY", "out": "DIR"})
    p.add_argument("--policy-arg", action="append", metavar="NAME=VALUE",
                   help="policy option (repeatable), e.g. batch_size=4, device=cuda, "
                        "extra_body='{\"top_k\": 20}'")
    add_field_options(p.add_argument_group("generation (model policies)"), GenerationConfig)
    g = p.add_argument_group("OpenAI-compatible endpoints (openai:MODEL)")
    g.add_argument("--base-url", help="endpoint root, e.g. http://127.0.0.1:8000/v1 "
                                      "(default $OPENAI_BASE_URL or https://api.openai.com/v1)")
    g.add_argument("--api-key-env", help="environment variable with the API key (default OPENAI_API_KEY)")
    g.add_argument("--concurrency", type=int, help="most requests in flight (default 8)")
    g.add_argument("--timeout", type=float,
                   help="total seconds per request attempt: connect, send and the whole response (default 120)")
    g.add_argument("--retries", type=int, help="retries on 429/5xx/timeouts/connection errors (default 4)")
    _import_option(p)
    p.set_defaults(func=_cmd_eval)

    p = sub.add_parser(
        "compare", help="leaderboard of evaluation folders (table, bar chart, HTML page)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Compare evaluation folders: the protocol metric per game and policy as a Markdown\n"
                    "table, a grouped bar chart and an HTML page, with warnings where the runs differ\n"
                    "in protocol, env kwargs or package versions.",
        epilog="examples:\n"
               "  vlmgym compare runs/eval/random-paper runs/eval/oracle\n"
               "  vlmgym compare runs/eval/* --reference paper_reference.json --out runs/leaderboard\n"
               "see docs/evaluation.md")
    p.add_argument("run_dirs", nargs="+", metavar="RUN_DIR", help="folders written by vlmgym eval")
    p.add_argument("--label", action="append",
                   help="row name for each RUN_DIR, in order (default: the policy spec)")
    p.add_argument("--reference", metavar="FILE",
                   help="JSON file of published numbers shown as reference bars (format in docs/evaluation.md)")
    p.add_argument("--out", default="runs/leaderboard", help="output folder (default runs/leaderboard)")
    p.add_argument("--no-chart", action="store_true", help="skip leaderboard.png")
    p.set_defaults(func=_cmd_compare)

    p = sub.add_parser("play", help="play a game yourself (pygame window)",
                       description="Arrow keys (2048) or two clicks (tile games); P prompt, T board "
                                   "text, U undo, R new game, Q quit.")
    p.add_argument("targets", nargs="+", metavar="ENV_ID|name=value")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--scale", type=float, default=1.0, help="window zoom")
    _import_option(p)
    p.set_defaults(func=_cmd_play)

    p = sub.add_parser("bench", help="run the benchmarks and print their tables")
    p.add_argument("-k", help="only benchmarks whose file name contains this")
    p.add_argument("--list", action="store_true", help="list the benchmarks without running them")
    p.add_argument("--dir", help="benchmarks folder (default ./benchmarks or the source checkout's)")
    p.set_defaults(func=_cmd_bench)

    p = sub.add_parser("list", help="list registered environment ids")
    p.add_argument("--all", action="store_true",
                   help="also list ids of your own registered with vlmgym's entry points (vlmgym.register_env)")
    _import_option(p)
    p.set_defaults(func=_cmd_list)
    p = sub.add_parser("rollout", help="random-policy rollout that saves board images")
    p.add_argument("env_id", nargs="?", default="VLMGym/2048-v0")
    p.add_argument("kwargs", nargs="*", help="env kwargs as name=value (JSON values)")
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="runs/rollout")
    p.set_defaults(func=_cmd_rollout)
    return parser


def main(argv: list[str] | None = None) -> int:
    """The ``vlmgym`` command; a closed stdout (``vlmgym list | head``) ends it quietly."""
    from vlmgym.cli_pipes import run_quietly

    return run_quietly(lambda: _main(argv))


def _main(argv: list[str] | None) -> int:
    from vlmgym.eval.redaction import redact_text  # what is printed is redacted

    args = build_parser().parse_args(argv)
    try:
        _import_modules(args)
        return int(args.func(args))
    except (ValueError, TypeError, FileNotFoundError) as exc:  # (a data file that is not there)
        print(f"vlmgym {args.command}: error: {redact_text(str(exc))}", file=sys.stderr)
        return 2
    except Exception as exc:
        from gymnasium.error import Error as GymError

        if isinstance(exc, GymError):  # e.g. DependencyNotInstalled: pygame for `vlmgym play`
            print(f"vlmgym {args.command}: error: {redact_text(str(exc))}", file=sys.stderr)
            return 2
        raise


if __name__ == "__main__":
    raise SystemExit(main())
