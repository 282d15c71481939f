"""G0 on a weighted mixture of games, with on-policy states, through the Python API.

The paper claims multi-game training; here every step's 128 states are drawn 2:1:1 from 2048,
Shisen-Sho and Swap (each with its own K random moves), and a quarter of them are states the policy
itself reached (so later game phases are trained too). Launch like the shell recipes, e.g.

    accelerate launch --config_file examples/rl/accelerate/zero3.yaml examples/rl/g0_multigame.py

Needs: pip install "vlmgym[rl,vllm,deepspeed]" and GPUs (see docs/training.md).
"""

import os

import vlmgym
from vlmgym_rl import G0Config, train_g0

games = {"VLMGym/2048-v0": 2.0, "VLMGym/Shisensho-v0": 1.0, "VLMGym/Swap-v0": 1.0}
games = {k: v for k, v in games.items() if k in vlmgym.ENV_IDS}

config = G0Config(
    output_dir=os.environ.get("OUT", "runs/g0-mixture"),
    env_ids=list(games),
    env_weights=list(games.values()),
    on_policy_fraction=0.25,           # states advanced by the policy's own moves
    per_device_train_batch_size=8,     # 640 completions = 8 x processes x accumulation (derived)
    use_vllm=True, vllm_mode="colocate", vllm_enable_sleep_mode=True, vllm_gpu_memory_utilization=0.3,
    vllm_max_model_length=10240,
    save_steps=50, save_total_limit=3,
    env_eval_every=50, env_eval_max_new_tokens=1024,
)
train_g0(os.environ.get("MODEL", "Qwen/Qwen2.5-VL-7B-Instruct"), config)
