#!/usr/bin/env bash
# G1 on a single 80 GB GPU, in one command: cold-start data (oracle teacher) -> LoRA SFT (adapters merged
# into the saved model) -> G0 with LoRA from that checkpoint, vLLM colocated with sleep mode.
# Folders: $OUT/coldstart, $OUT/sft (the cold-started model), $OUT/rl (the G0 run). Run it again after an
# interruption: finished stages are skipped, unfinished ones resume from their last checkpoint.
#
# Needs: pip install "vlmgym[rl,vllm]"; one 80 GB GPU.
# SFT: 3,000 examples (1,000 per game), 4 per micro-batch x 8 accumulation = 32 per step, ~94 steps, 1 epoch.
#      The paper's lr 2e-5 is for full fine-tuning; LoRA usually needs about 1e-4.
# G0: as examples/rl/g0_1gpu_lora.sh (640 completions per step = 8 x 80 accumulation), on the same games.
set -euo pipefail
MODEL=${MODEL:-Qwen/Qwen2.5-VL-7B-Instruct}
OUT=${OUT:-runs/g1-lora}
NUM_PROCESSES=1
HERE=$(cd "$(dirname "$0")" && pwd)

G0_ARGS=(
  --env VLMGym/2048-v0 VLMGym/Shisensho-v0 VLMGym/Swap-v0
  --model "$MODEL"
  --output-dir "$OUT"
  --use_lora --lora_r 64 --lora_alpha 128 --learning_rate 1e-5
  --model_init_kwargs '{"dtype": "bfloat16"}'   # frozen base in bf16 (TRL loads float32 by default)
  --per_device_train_batch_size 8
  --max_completion_length 2048
  --use_vllm --vllm_mode colocate --vllm_enable_sleep_mode
  --vllm_gpu_memory_utilization 0.35 --vllm_max_model_length 4096
  --save_steps 50 --save_total_limit 3
  --env_eval_every 50 --env_eval_runs 10 --env_eval_max_new_tokens 1024
  --report_to "${REPORT_TO:-none}"   # REPORT_TO=tensorboard or wandb (pip install it)
)
G1_ARGS=(
  --coldstart_states 1000 --coldstart_teacher oracle
  --sft_learning_rate 1e-4 --sft_num_train_epochs 1
  --sft_per_device_train_batch_size 4 --sft_gradient_accumulation_steps 8 --sft_save_steps 50
)

accelerate launch --config_file "$HERE/accelerate/single_gpu.yaml" --num_processes "$NUM_PROCESSES" \
  -m vlmgym_rl.cli g1 "${G0_ARGS[@]}" "${G1_ARGS[@]}" "$@"
