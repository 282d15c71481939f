#!/usr/bin/env bash
# G1 (the paper's recipe) on 1 node x 8 GPUs, full fine-tune of Qwen2.5-VL-7B-Instruct with DeepSpeed ZeRO-3,
# as three commands (each stage is its own launch, so no process holds two DeepSpeed engines):
#   1. cold-start data: 1,000 oracle examples per game (CPU, about a minute; resumable)
#   2. SFT: lr 2e-5, 1 epoch (the paper), 8 processes x 4 per micro-batch x 2 accumulation = 64 per step
#   3. G0 from the SFT checkpoint: as examples/rl/g0_8gpu_colocate.sh (KL reference = the SFT model)
#
# Needs: pip install "vlmgym[rl,vllm,deepspeed]"; 8 x 80 GB GPUs. `vlmgym-rl g1` runs the same stages in one
# launch (see g1_1gpu_lora.sh) if you prefer.
set -euo pipefail
MODEL=${MODEL:-Qwen/Qwen2.5-VL-7B-Instruct}
OUT=${OUT:-runs/g1-8gpu}
ZERO=${ZERO:-3}
NUM_PROCESSES=8
HERE=$(cd "$(dirname "$0")" && pwd)
GAMES=(--env VLMGym/2048-v0 VLMGym/Shisensho-v0 VLMGym/Swap-v0)

SFT_ARGS=(
  --model "$MODEL"
  --dataset "$OUT/coldstart"
  --output-dir "$OUT/sft"
  --learning_rate 2e-5 --num_train_epochs 1
  --per_device_train_batch_size 4 --gradient_accumulation_steps 2
  --save_steps 50 --save_total_limit 2 --logging_steps 5
  --resume_from_checkpoint last   # the newest checkpoint in --output-dir, if there is one
  --report_to "${REPORT_TO:-none}"
)
G0_ARGS=(
  "${GAMES[@]}"
  --model "$OUT/sft"
  --output-dir "$OUT/rl"
  --per_device_train_batch_size 8
  --use_vllm --vllm_mode colocate --vllm_enable_sleep_mode
  --vllm_gpu_memory_utilization 0.3 --vllm_max_model_length 10240
  --save_steps 50 --save_total_limit 3
  --env_eval_every 50 --env_eval_max_new_tokens 1024
  --report_to "${REPORT_TO:-none}"
)

vlmgym-rl coldstart "${GAMES[@]}" -n "${N:-1000}" --out "$OUT/coldstart" --quiet
if [[ ! -f "$OUT/sft/vlmgym_sft.json" ]]; then   # skipped once the SFT stage has saved its model
  accelerate launch --config_file "$HERE/accelerate/zero$ZERO.yaml" --num_processes "$NUM_PROCESSES" \
    -m vlmgym_rl.cli sft "${SFT_ARGS[@]}"
fi
accelerate launch --config_file "$HERE/accelerate/zero$ZERO.yaml" --num_processes "$NUM_PROCESSES" \
  -m vlmgym_rl.cli g0 "${G0_ARGS[@]}" "$@"
