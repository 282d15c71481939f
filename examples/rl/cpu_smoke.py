"""Two real G0 steps on CPU with a tiny random Qwen2.5-VL built offline (no GPU, no download).

It exercises everything a GPU run does -- the state stream, generation with images, the env
rewards, the GRPO update, the in-env evaluation and the rollout log -- in about a minute. The model
is random, so the numbers mean nothing; the point is that the pipeline runs.

    python examples/rl/cpu_smoke.py [output_dir]
"""

import json
import os
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests"))  # tests/tiny_vlm.py

import torch  # noqa: E402

from tiny_vlm import build_tiny_vlm, load_tiny_vlm  # noqa: E402
from vlmgym_rl import G0Config, train_g0  # noqa: E402

torch.set_num_threads(1)  # tiny matrices: more threads only add overhead
out = Path(sys.argv[1] if len(sys.argv) > 1 else "runs/g0-cpu-smoke")
build_tiny_vlm(save_dir=out / "tiny-model")
_, processor = load_tiny_vlm(out / "tiny-model")  # AutoProcessor cannot build the test processor

config = G0Config(
    output_dir=str(out / "run"), use_cpu=True, bf16=False, report_to="none",
    max_steps=2, states_per_step=4, num_generations=4, per_device_train_batch_size=16,
    max_completion_length=16, learning_rate=1e-4, gradient_checkpointing=False,
    env_eval_every=2, env_eval_runs=2, env_eval_episode_steps=3, env_eval_max_new_tokens=8,
    save_strategy="no", logging_steps=1,
    min_pixels=None, max_pixels=None,  # the tiny processor's own bounds (the paper's 262144 is for 7B runs)
)
trainer = train_g0(str(out / "tiny-model"), config, processor=processor)
for entry in trainer.state.log_history:
    keys = [k for k in entry if k.startswith(("rewards/game", "vlmgym/2048", "vlmgym_eval/2048-v0/metric"))]
    if keys:
        print(entry["step"], json.dumps({k: round(entry[k], 3) for k in keys}))
rollouts = (out / "run" / "rollouts" / "rollouts.jsonl").read_text().splitlines()
print("rollouts:", len(rollouts), "lines")
