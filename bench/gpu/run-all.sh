#!/usr/bin/env bash
# One device call: every GPU test, then the PyTorch peers and ours side by side (attention,
# grouped GEMM / MoE, GPU block masks), ratios printed by our benchmarks. Each phase has its own
# time limit and writes to $OUT as it goes, so a slow phase does not lose the others' figures.
# Here (dev machine):  bash bench/gpu/bundle.sh      (bundles tests/benches into .gpu/)
# Device:              bash bench/gpu/run-all.sh     (with .gpu carried; writes $OUT/*.txt)
set -uo pipefail
OUT=${OUT:-/tmp/sl-gpu}; mkdir -p "$OUT"
G=${GPU_DIR:-.gpu}
export SPARSELAB_CUDA_ADDON=${SPARSELAB_CUDA_ADDON:-$PWD/$G/sparselab_cuda.node}
export SPARSELAB_CACHE_DIR=${SPARSELAB_CACHE_DIR:-/tmp/sl-cache}
xz -dc "$G/node.xz" > /usr/local/bin/node && chmod +x /usr/local/bin/node
nvidia-smi --query-gpu=name,driver_version,clocks.sm,temperature.gpu --format=csv | tee "$OUT/gpu.txt"
date -u +"%Y-%m-%d %H:%M UTC" | tee -a "$OUT/gpu.txt"
timeout ${TESTS_TIMEOUT:-300} node --test "$G"/*.test.mjs > "$OUT/tests.txt" 2>&1
grep -E "^# (tests|pass|fail|skipped)|^not ok" "$OUT/tests.txt"
peer() { PYTHONUNBUFFERED=1 timeout "$2" python3 "bench/gpu/$1.py" > "$OUT/$1.jsonl" 2> "/tmp/$1.err" || { echo "$1: exit $?"; tail -5 "/tmp/$1.err"; }; }
peer peer_attention ${PEER_ATTN_TIMEOUT:-200}
timeout 240 node "$G/bench-gpu-attention.mjs" "$OUT/peer_attention.jsonl" 2>&1 | grep -v '^{' | tee "$OUT/attention.txt"
peer peer_moe 100
timeout 120 node "$G/bench-gpu-moe.mjs" "$OUT/peer_moe.jsonl" 2>&1 | tee "$OUT/moe.txt"
peer peer_block_mask 100
timeout 100 node "$G/bench-gpu-runtime.mjs" "$OUT/peer_block_mask.jsonl" 2>&1 | tee "$OUT/runtime.txt"
