"""Save a game to bytes, restore it later, and branch two futures from it."""

import gymnasium as gym

import vlmgym

env = gym.make("VLMGym/2048-v0", obs_mode="text")
env.reset(seed=1)
for move in "0123":
    env.step(f"<answer>{move}</answer>")
blob = env.unwrapped.get_state().to_bytes()        # no pickle; safe to store anywhere
print(f"snapshot: {len(blob)} bytes")

state = vlmgym.GameState.from_bytes(blob)          # validated on load
for branch in ("left", "right"):
    obs, info = env.reset(options={"state": state})
    obs, reward, *_ , info = env.step(f"<answer>{branch}</answer>")
    print(f"--- {branch}: reward {reward:+.0f}\n{obs}")
