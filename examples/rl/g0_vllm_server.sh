#!/usr/bin/env bash
# G0 with a separate vLLM server: GPUs 4-7 serve generations (vLLM data parallel 4), GPUs 0-3 train
# with DeepSpeed ZeRO-3; after every optimizer step TRL pushes the new weights to the server over NCCL.
#
# Needs: pip install "vlmgym[rl,vllm,deepspeed]"  (vllm >= 0.30: image prompts go through
#        --enable-scale-out endpoints); 8 GPUs with 80 GB on one node.
# Batch: 128 states x 5 answers = 640 = 4 processes x 8 x 20 accumulation steps. With 7 training GPUs
#        and 1 server GPU, 640 is not divisible by 7 x 8: pass --states_per_step 112 (560 = 7 x 8 x 10).
set -euo pipefail
MODEL=${MODEL:-Qwen/Qwen2.5-VL-7B-Instruct}
ENV_ID=${ENV_ID:-VLMGym/2048-v0}
OUT=${OUT:-runs/g0-2048-server}
PORT=${PORT:-8000}
NUM_PROCESSES=4
HERE=$(cd "$(dirname "$0")" && pwd)

# The command `trl vllm-serve` used to run (it is deprecated): vLLM's own server in dev mode with the
# weight-transfer engine and the logprob settings TRL's client expects.
CUDA_VISIBLE_DEVICES=4,5,6,7 VLLM_SERVER_DEV_MODE=1 vllm serve "$MODEL" --port "$PORT" \
  --data-parallel-size 4 --max-model-len 10240 --gpu-memory-utilization 0.9 --enable-scale-out \
  --weight-transfer-config '{"backend": "nccl"}' --logprobs-mode processed_logprobs --max-logprobs -1 &
SERVER=$!
trap 'kill $SERVER' EXIT
until curl -sf "http://localhost:$PORT/health" >/dev/null; do sleep 5; done

G0_ARGS=(
  --env "$ENV_ID"
  --model "$MODEL"
  --output-dir "$OUT"
  --per_device_train_batch_size 8
  --use_vllm --vllm_mode server --vllm_server_base_url "http://localhost:$PORT"
  --save_steps 50 --save_total_limit 3
  --env_eval_every 50 --env_eval_max_new_tokens 1024
  --report_to "${REPORT_TO:-none}"   # REPORT_TO=tensorboard or wandb (pip install it)
)

CUDA_VISIBLE_DEVICES=0,1,2,3 accelerate launch --config_file "$HERE/accelerate/zero3.yaml" \
  --num_processes "$NUM_PROCESSES" -m vlmgym_rl.cli g0 "${G0_ARGS[@]}" "$@"
