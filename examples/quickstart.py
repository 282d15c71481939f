"""Play a few moves of 2048 with model-style answers and save what the model would see."""

import gymnasium as gym
from PIL import Image

import vlmgym  # noqa: F401  (registers the VLMGym/* ids)

env = gym.make("VLMGym/2048-v0", obs_mode="image+text")
obs, info = env.reset(seed=0)
print(info["prompt"], "\n")
for reply in ["<answer>left</answer>", "<answer>(0, 1)</answer>", "I think <answer>1</answer>"]:
    obs, reward, terminated, truncated, info = env.step(reply)
    print(f"{reply!r:32} -> reward {reward:+.0f}, {info['action_status']:10} action={info['action']}")
print("\nboard text (perception target):\n" + info["board_text"])
Image.fromarray(obs["image"]).save("2048_board.png")
print("saved 2048_board.png", obs["image"].shape)
