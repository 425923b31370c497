#!/usr/bin/env bash
# One device call: the GPU tests, then the PyTorch peers and ours, side by side.
# Here (dev machine):  bash bench/gpu/bundle.sh      (bundles tests/benches into .gpu/)
# Device:              bash bench/gpu/run-all.sh     (with .gpu carried; writes $OUT/*.txt)
set -uo pipefail
OUT=${OUT:-/tmp/sl-gpu}; mkdir -p "$OUT"
G=${GPU_DIR:-.gpu}
export SPARSELAB_CUDA_ADDON=${SPARSELAB_CUDA_ADDON:-$PWD/$G/sparselab_cuda.node}
xz -dc "$G/node.xz" > /usr/local/bin/node && chmod +x /usr/local/bin/node
nvidia-smi --query-gpu=name,driver_version,clocks.sm,temperature.gpu --format=csv | tee "$OUT/gpu.txt"
node --test "$G"/*.test.mjs 2>&1 | tee "$OUT/tests.txt" | grep -E "^# (tests|pass|fail)|^not ok"
PYTHONUNBUFFERED=1 timeout 300 python3 bench/gpu/peer_attention.py > "$OUT/peer_attention.jsonl" 2> "$OUT/peer_attention.err"
node "$G/bench-gpu-attention.mjs" "$OUT/peer_attention.jsonl" 2>&1 | grep -v '^{' | tee "$OUT/attention.txt"
PYTHONUNBUFFERED=1 timeout 200 python3 bench/gpu/peer_moe.py > "$OUT/peer_moe.jsonl" 2> "$OUT/peer_moe.err"
node "$G/bench-gpu-moe.mjs" "$OUT/peer_moe.jsonl" 2>&1 | tee "$OUT/moe.txt"
