#!/usr/bin/env bash
# Cold-start data for G1: 1,000 verified examples per game whose <perception> is the exact board text.
#
# Teacher "oracle" (default): the built-in solver picks the move and the reasoning is written from what
# it checked; no model, no GPU, deterministic, resumable (run it again after an interruption).
# Teacher "openai:MODEL" (TEACHER=...): any OpenAI-compatible endpoint, e.g. a local vLLM server:
#   vllm serve Qwen/Qwen2.5-VL-72B-Instruct --port 8001 --tensor-parallel-size 4 --max-model-len 8192
#   export OPENAI_API_KEY=EMPTY; TEACHER=Qwen/Qwen2.5-VL-72B-Instruct BASE_URL=http://localhost:8001/v1 bash coldstart_data.sh
# Every teacher answer is replayed in the env; answers without a positive reward are asked again (3 tries)
# and states nobody answers right are replaced. Acceptance statistics: $OUT/<teacher>/stats.json.
set -euo pipefail
OUT=${OUT:-data/coldstart}
N=${N:-1000}
GAMES=(--env VLMGym/2048-v0 VLMGym/Shisensho-v0 VLMGym/Swap-v0)

if [[ -z "${TEACHER:-}" ]]; then
  vlmgym-rl coldstart "${GAMES[@]}" -n "$N" --out "$OUT/oracle" "$@"
else
  vlmgym-rl coldstart "${GAMES[@]}" -n "$N" --out "$OUT/$(basename "$TEACHER")" --teacher "openai:$TEACHER" \
    --base-url "${BASE_URL:-http://localhost:8001/v1}" --concurrency "${CONCURRENCY:-32}" --max-tokens 4096 "$@"
fi
