#!/usr/bin/env bash
# G0 (the paper's recipe) on 1 node x 8 GPUs: full fine-tune of Qwen2.5-VL-7B-Instruct (vision tower
# included), DeepSpeed ZeRO-3 (or ZERO=2), vLLM colocated on the training GPUs with sleep mode.
#
# Needs: pip install "vlmgym[rl,vllm,deepspeed]"  (torch 2.13.0, transformers 5.17.x, trl 1.16, vllm 0.30/0.31)
#        8 GPUs with 80 GB; the model downloaded (or HF_HUB_OFFLINE=0).
# Batch: 128 states x 5 answers = 640 completions per optimizer step
#        = 8 processes x per_device_train_batch_size 8 x 10 accumulation steps (derived from states_per_step).
# Memory per GPU (bf16): ZeRO-3 shards weights+grads+Adam (~16 B/param x 8.3 B params / 8 = ~17 GB);
#        vLLM takes vllm_gpu_memory_utilization of the GPU while generating and sleeps (frees it) while training.
set -euo pipefail
MODEL=${MODEL:-Qwen/Qwen2.5-VL-7B-Instruct}
ENV_ID=${ENV_ID:-VLMGym/2048-v0}
OUT=${OUT:-runs/g0-2048-8gpu}
ZERO=${ZERO:-3}
NUM_PROCESSES=8
HERE=$(cd "$(dirname "$0")" && pwd)

G0_ARGS=(
  --env "$ENV_ID"
  --model "$MODEL"
  --output-dir "$OUT"
  --per_device_train_batch_size 8
  --use_vllm --vllm_mode colocate --vllm_enable_sleep_mode
  --vllm_gpu_memory_utilization 0.3 --vllm_max_model_length 10240
  --save_steps 50 --save_total_limit 3
  --env_eval_every 50 --env_eval_max_new_tokens 1024
  --report_to "${REPORT_TO:-none}"   # REPORT_TO=tensorboard or wandb (pip install it)
)

accelerate launch --config_file "$HERE/accelerate/zero$ZERO.yaml" --num_processes "$NUM_PROCESSES" \
  -m vlmgym_rl.cli g0 "${G0_ARGS[@]}" "$@"
