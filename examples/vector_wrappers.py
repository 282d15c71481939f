"""A Gymnasium-style rollout loop over vlmgym's native vector env, with Gymnasium's own wrappers.

Gymnasium's observation wrappers need NEXT_STEP autoreset (Gymnasium's default; vlmgym's default is
SAME_STEP, so that every model answer is played). Here an index policy (uniformly random legal
moves, from ``legal_masks()``) drives a text-answer env through ``TransformAction``, small
grayscale frames come out of ``GrayscaleObservation`` + ``ReshapeObservation``, and
``RecordEpisodeStatistics`` reports each finished game. With ``reward_mode="score"`` an episode's
return is its game's final score.

    python examples/vector_wrappers.py [ENV_ID] [--envs 8] [--steps 200]
"""

from __future__ import annotations

import argparse

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode
from gymnasium.wrappers import vector as vw

import vlmgym  # noqa: F401  (registers the VLMGym/* ids)


def make(env_id: str, n: int) -> gym.vector.VectorEnv:
    vec = gym.make_vec(env_id, num_envs=n, autoreset_mode=AutoresetMode.NEXT_STEP, reward_mode="score",
                       cell_px=28, max_episode_steps=50)
    game = vec.unwrapped.game
    # the policy picks indices; the env reads model-style answers
    vec = vw.TransformAction(vec, lambda a: [f"<answer>{t}</answer>" for t in game.index_answers(np.asarray(a))],
                             action_space=gym.spaces.MultiDiscrete([game.num_actions] * n),
                             single_action_space=gym.spaces.Discrete(game.num_actions))
    vec = vw.GrayscaleObservation(vec)                                  # (n, H, W) uint8
    vec = vw.ReshapeObservation(vec, (int(np.prod(vec.single_observation_space.shape)),))  # (n, H*W)
    return vw.RecordEpisodeStatistics(vec)


def rollout(env_id: str = "VLMGym/2048-v0", n: int = 8, steps: int = 200, seed: int = 0) -> list[tuple[float, int]]:
    """Play ``steps`` batched steps; returns (return, length) of every finished episode."""
    env = make(env_id, n)
    rng = np.random.default_rng(seed)
    obs, info = env.reset(seed=seed)
    episodes = []
    for _ in range(steps):
        masks = env.unwrapped.legal_masks()
        actions = np.array([rng.choice(np.flatnonzero(m)) if m.any() else 0 for m in masks])
        obs, reward, terminated, truncated, info = env.step(actions)
        # info["autoreset"] marks envs that restarted in this step: their reward is 0 and their
        # action was ignored (action_status "ignored"), as Gymnasium's NEXT_STEP mode defines it
        if "episode" in info:
            for i in np.flatnonzero(info["_episode"]):
                episodes.append((float(info["episode"]["r"][i]), int(info["episode"]["l"][i])))
    env.close()
    return episodes


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("env_id", nargs="?", default="VLMGym/2048-v0")
    parser.add_argument("--envs", type=int, default=8)
    parser.add_argument("--steps", type=int, default=200)
    args = parser.parse_args()
    done = rollout(args.env_id, args.envs, args.steps)
    print(f"{len(done)} episodes; mean return {np.mean([r for r, _ in done]):.1f}, "
          f"mean length {np.mean([n for _, n in done]):.1f}" if done else "no episode finished")
