"""Record an episode of any vlmgym env to mp4 without moviepy (Gymnasium's RecordVideo needs it).

    pip install ".[eval]"            # imageio-ffmpeg (a bundled ffmpeg)
    python examples/record_video.py VLMGym/Swap-v0 --steps 30 --out swap.mp4

The policy plays uniformly random legal moves; every frame is ``env.render()`` of an
``rgb_array`` env, the same image a model sees.
"""

from __future__ import annotations

import argparse

import gymnasium as gym
import numpy as np

import vlmgym  # noqa: F401  (registers the VLMGym/* ids)


def record(env_id: str, out: str, steps: int = 30, seed: int = 0, fps: int = 4) -> int:
    """Write ``steps`` random legal moves (fewer if the game ends) of ``env_id`` to ``out``; return
    the number of frames written."""
    import imageio_ffmpeg  # the eval extra

    env = gym.make(env_id, render_mode="rgb_array")
    env.reset(seed=seed)
    core = env.unwrapped
    game = core.game  # type: ignore[attr-defined]
    rng = np.random.default_rng(seed)
    frame = env.render()
    h, w = frame.shape[:2]
    writer = imageio_ffmpeg.write_frames(out, (w, h), fps=fps, codec="libx264", macro_block_size=1,
                                         ffmpeg_log_level="error")
    writer.send(None)  # start ffmpeg
    frames = 0
    try:
        writer.send(np.ascontiguousarray(frame))
        frames += 1
        for _ in range(steps):
            legal = np.flatnonzero(core.legal_actions())  # type: ignore[attr-defined]
            if len(legal) == 0:
                break
            action = game.from_array(game.decode(np.array([rng.choice(legal)]))[0])
            _, _, terminated, truncated, _ = env.step(f"<answer>{game.format_answer(action)}</answer>")
            writer.send(np.ascontiguousarray(env.render()))
            frames += 1
            if terminated or truncated:
                break
    finally:
        writer.close()
        env.close()
    return frames


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Record random legal play of a vlmgym env to mp4.")
    parser.add_argument("env_id", nargs="?", default="VLMGym/2048-v0")
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="episode.mp4")
    args = parser.parse_args()
    n = record(args.env_id, args.out, steps=args.steps, seed=args.seed)
    print(f"wrote {n} frames of {args.env_id} to {args.out}")
