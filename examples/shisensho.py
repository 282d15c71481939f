"""Shisen-Sho: the paper preset, the difficulty presets, and image tiles (CIFAR-10 if available).

Run: python examples/shisensho.py [path/to/cifar-10-binary.tar.gz]   (or set VLMGYM_CIFAR10)
"""

import os
import sys

import gymnasium as gym
import numpy as np
from PIL import Image

import vlmgym  # noqa: F401  (registers the VLMGym/* ids)

# 1. The paper's configuration: answer with a legal pair taken from the action mask.
env = gym.make("VLMGym/Shisensho-v0", obs_mode="image+text", show_coords=True)
obs, info = env.reset(seed=0)
game = env.unwrapped.game
mask = env.unwrapped.legal_actions()
move = game.from_array(game.decode(np.flatnonzero(mask)[:1])[0])
print(f"{int(mask.sum()) // 2} removable pairs, e.g. {move}")
for reply in [f"<answer>{game.format_answer(move)}</answer>", "<answer>(0, 0) (0, 0)</answer>"]:
    obs, reward, terminated, truncated, info = env.step(reply)
    print(f"{reply!r:40} -> reward {reward:+.0f}, {info['action_status']}, {info['tiles_left']} tiles left")
print("\nboard text (perception target):\n" + info["board_text"])
Image.fromarray(obs["image"]).save("shisensho_board.png")

# 2. Difficulty presets: perception (more colours and shapes) x reasoning (bigger boards).
for env_id in ["VLMGym/ShisenshoBase-v0", "VLMGym/ShisenshoMoreShapesColors-v0",
               "VLMGym/ShisenshoMoreTiles-v0", "VLMGym/ShisenshoComposition-v0"]:
    e = gym.make(env_id, action_mode="index")
    _, i = e.reset(seed=0)
    print(f"{env_id:38} {e.observation_space.shape}, {e.action_space}, "
          f"{int(i['action_mask'].sum()) // 2} removable pairs at the start")

# 3. Image tiles: CIFAR-10 from the binary archive (skipped when none is given).
path = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("VLMGYM_CIFAR10")
if path:
    e = gym.make("VLMGym/ShisenshoCifar10-v0", cifar10_path=path, obs_mode="image+text")
    o, i = e.reset(seed=0)
    print("\nCIFAR-10 board:\n" + i["board_text"])
    Image.fromarray(o["image"]).save("shisensho_cifar10.png")
else:
    print("\n(no CIFAR-10 archive given: see docs/games/shisensho.md to run the image-tile game)")
