#!/usr/bin/env bash
# G0 on a single 80 GB GPU: LoRA adapters (PEFT) on every linear layer of Qwen2.5-VL-7B-Instruct
# (vision tower included), vLLM colocated with sleep mode, gradient checkpointing (TRL's default).
#
# Needs: pip install "vlmgym[rl,vllm]"; one 80 GB GPU (A100/H100).
# Memory: bf16 weights ~17 GB for training + ~17 GB for vLLM's copy (offloaded while it sleeps) +
#         KV cache (vllm_gpu_memory_utilization 0.35 ~ 28 GB while generating) + LoRA/Adam states (< 2 GB)
#         + activations of 8 sequences per micro-batch (shorter answers keep them small).
# Batch: 128 states x 5 answers = 640 = 8 per micro-batch x 80 accumulation steps; the reference policy
#        for the KL term is the base model with the adapters switched off (no second copy).
# The paper's lr 1e-6 is for full fine-tuning; LoRA usually needs a larger one (1e-5 here).
set -euo pipefail
MODEL=${MODEL:-Qwen/Qwen2.5-VL-7B-Instruct}
ENV_ID=${ENV_ID:-VLMGym/2048-v0}
OUT=${OUT:-runs/g0-2048-lora}
NUM_PROCESSES=1
HERE=$(cd "$(dirname "$0")" && pwd)

G0_ARGS=(
  --env "$ENV_ID"
  --model "$MODEL"
  --output-dir "$OUT"
  --use_lora --lora_r 64 --lora_alpha 128 --learning_rate 1e-5
  --per_device_train_batch_size 8
  --max_completion_length 2048
  --use_vllm --vllm_mode colocate --vllm_enable_sleep_mode
  --vllm_gpu_memory_utilization 0.35 --vllm_max_model_length 4096
  --save_steps 50 --save_total_limit 3
  --env_eval_every 50 --env_eval_runs 10 --env_eval_max_new_tokens 1024
  --report_to "${REPORT_TO:-none}"   # REPORT_TO=tensorboard or wandb (pip install it)
)

accelerate launch --config_file "$HERE/accelerate/single_gpu.yaml" --num_processes "$NUM_PROCESSES" \
  -m vlmgym_rl.cli g0 "${G0_ARGS[@]}" "$@"
