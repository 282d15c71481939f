"""Multi-turn GRPO on 2048: the model plays several moves per episode through a tool (beyond the paper).

Each episode starts from a sampled state (reset + the paper's 100 random moves); the model calls
``move(direction)`` once per move, sees the result and the new board picture after each call, and the
episode is scored once at the end (+1 per successful move, -1 per failed one). See the limits in
``vlmgym_rl.multiturn`` (one advantage per episode; the whole history, pictures included, must fit
``max_completion_length``).

GPU (LoRA on one 80 GB GPU, transformers generation; add --use-vllm for vLLM colocate):

    accelerate launch --config_file examples/rl/accelerate/single_gpu.yaml examples/rl/multiturn_2048.py

CPU smoke test with a tiny random Qwen2.5-VL built offline (the model makes no real tool calls, so
episodes end without a move; the point is that the pipeline runs):

    python examples/rl/multiturn_2048.py --tiny
"""

import argparse
import os
import sys
from pathlib import Path

from trl import GRPOConfig, GRPOTrainer

from vlmgym_rl.multiturn import EpisodeMetrics, episode_dataset, episode_factory, use_tool_chat_template

p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
p.add_argument("--model", default=os.environ.get("MODEL", "Qwen/Qwen2.5-VL-7B-Instruct"))
p.add_argument("--out", default="runs/multiturn-2048")
p.add_argument("--moves", type=int, default=6, help="moves per episode")
p.add_argument("--episodes", type=int, default=4096, help="episode starts in the dataset")
p.add_argument("--use-vllm", action="store_true")
p.add_argument("--tiny", action="store_true", help="CPU smoke test with a tiny random model")
a = p.parse_args()

if a.tiny:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests"))  # tests/tiny_vlm.py
    import torch

    from tiny_vlm import build_tiny_vlm

    torch.set_num_threads(1)  # tiny matrices: more threads only add overhead
    model, processor = build_tiny_vlm(save_dir=Path(a.out) / "tiny-model")
    hardware = dict(use_cpu=True, bf16=False, gradient_checkpointing=False, max_steps=2,
                    per_device_train_batch_size=4, num_generations=2, max_completion_length=128)
    peft_config = None
else:
    from peft import LoraConfig
    from transformers import AutoProcessor

    model, processor = a.model, AutoProcessor.from_pretrained(a.model, padding_side="left")
    # 8 episodes x 5 rollouts = 40 per step; every rollout holds up to `moves` board pictures (~74 tokens each
    # for the default 224x224 board) plus the turns' text
    hardware = dict(bf16=True, max_steps=300, per_device_train_batch_size=8, gradient_accumulation_steps=5,
                    num_generations=5, max_completion_length=a.moves * 700, learning_rate=1e-5, beta=0.01,
                    save_steps=50, save_total_limit=3)
    peft_config = LoraConfig(r=64, lora_alpha=128, lora_dropout=0.05, target_modules="all-linear",
                             task_type="CAUSAL_LM")
    if a.use_vllm:
        hardware.update(use_vllm=True, vllm_mode="colocate", vllm_enable_sleep_mode=True,
                        vllm_gpu_memory_utilization=0.35, vllm_max_model_length=a.moves * 700 + 2048)

processor = use_tool_chat_template(processor)  # Qwen2.5-VL's own template cannot render tool calls
config = GRPOConfig(
    output_dir=a.out, report_to="none", logging_steps=1, temperature=1.0, save_strategy="steps" if not a.tiny else "no",
    max_tool_calling_iterations=a.moves + 1,   # one call beyond the budget gets an error, then the episode ends
    reward_weights=[0.0],                      # EpisodeMetrics only logs; the reward is the episode's get_reward()
    log_completions=True, num_completions_to_print=1,
    **hardware,
)
trainer = GRPOTrainer(
    model=model, processing_class=processor, args=config, peft_config=peft_config,
    reward_funcs=[EpisodeMetrics()],
    train_dataset=episode_dataset("VLMGym/2048-v0", 8 if a.tiny else a.episodes, max_moves=a.moves),
    environment_factory=episode_factory("VLMGym/2048-v0", max_moves=a.moves),
)
trainer.train()
for h in trainer.state.log_history:
    if "rewards/Game2048Episode/mean" in h:
        print(h["step"], {k: round(v, 3) for k, v in h.items() if k.startswith(("rewards/Game2048", "vlmgym_episode",
                                                                                  "tools/"))})
