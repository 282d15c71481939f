"""Command line: ``vlmgym <command>``.

Commands:
    rollout   play a short random-policy rollout and save the board images
    list      list registered environment ids
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

__all__ = ["main", "parse_env_kwargs"]


def parse_env_kwargs(pairs: list[str]) -> dict[str, Any]:
    """``["size=5", "colors=[\\"Red\\"]"]`` -> kwargs; values are JSON when they parse, else strings."""
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.isidentifier():
            raise SystemExit(f"env kwargs must look like name=value, got {pair!r}")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


def _cmd_list(args: argparse.Namespace) -> int:
    import vlmgym

    for env_id, (kwargs, max_steps) in vlmgym.ENV_IDS.items():
        extra = f"  max_episode_steps={max_steps}" if max_steps else ""
        print(f"{env_id:40s} {kwargs}{extra}")
    return 0


def _cmd_rollout(args: argparse.Namespace) -> int:
    import gymnasium as gym
    import numpy as np
    from PIL import Image

    import vlmgym

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    env = gym.make(args.env_id, **parse_env_kwargs(args.kwargs))
    base = env.unwrapped
    if not isinstance(base, vlmgym.VLMGymEnv):
        raise ValueError(f"{args.env_id} is not a vlmgym environment")
    obs, info = env.reset(seed=args.seed)
    game = base.game
    rng = np.random.default_rng(args.seed)
    Image.fromarray(_image(obs)).save(out / "step_000.png")
    total = 0.0
    for t in range(1, args.steps + 1):
        legal = np.flatnonzero(base.legal_actions())
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vlmgym", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("list", help="list registered environment ids")
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
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except (ValueError, TypeError) as exc:
        print(f"vlmgym {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
