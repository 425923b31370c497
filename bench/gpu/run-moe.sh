#!/usr/bin/env bash
# The MoE share of a device call: the grouped GEMM diagnosis, the PyTorch peer and our benchmark
# (before the tests, so a hung variant in the tests cannot cost the figures), the MoE GPU tests, then compute-sanitizer memcheck over the small MoE tests. Bundle first here:
#   GPU_DIR=.gpu-gemm2 bash bench/gpu/bundle.sh && npx esbuild bench/gpu/moe-diag.ts --bundle \
#     --platform=node --format=esm --outfile=.gpu-gemm2/moe-diag.mjs
# then on the device (with that folder carried):  GPU_DIR=.gpu-gemm2 bash bench/gpu/run-moe.sh
set -uo pipefail
G=${GPU_DIR:-.gpu}
OUT=${OUT:-/tmp/sl-gpu}; mkdir -p "$OUT"
xz -dc "$G/node.xz" > /usr/local/bin/node && chmod +x /usr/local/bin/node
export SPARSELAB_CACHE_DIR=/tmp/sl-cache
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm,temperature.gpu,power.draw --format=csv | tee "$OUT/gpu.txt"
if ! timeout 60 node "$G/moe-diag.mjs" 2>&1 | tee "$OUT/diag.txt"; then echo "diag failed or hung: stopping"; exit 1; fi
PYTHONUNBUFFERED=1 timeout 100 python3 bench/gpu/peer_moe.py > "$OUT/peer_moe.jsonl" 2> "$OUT/peer_moe.err"
[ -s "$OUT/peer_moe.jsonl" ] || cp bench/gpu/peer-moe-last.jsonl "$OUT/peer_moe.jsonl"
timeout 150 node "$G/bench-gpu-moe.mjs" "$OUT/peer_moe.jsonl" 2>&1 | tee "$OUT/moe.txt"
timeout 120 node --test "$G/moe.test.mjs" > "$OUT/tests.txt" 2>&1
grep -E "^# (tests|pass|fail)|^not ok|rel err|seed " "$OUT/tests.txt" | head -30
timeout 170 compute-sanitizer --tool memcheck node --test \
  --test-name-pattern="ragged groups, one empty|K, N off the tile|permuteByExpert|moeForward" "$G/moe.test.mjs" > "$OUT/memcheck.txt" 2>&1
grep -E "ERROR SUMMARY|^# (pass|fail)" "$OUT/memcheck.txt"
