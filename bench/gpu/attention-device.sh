#!/usr/bin/env bash
# One device call for the attention kernels (bundle first here: GPU_DIR=.gpu-attn bash bench/gpu/bundle.sh):
# the attention GPU tests, compute-sanitizer memcheck on the wgmma kernel (small shapes), the
# SASS check of the compiled Hopper cubin (HGMMA present, no local memory), then the benchmark
# against the stored peer figures (PEER=path, default bench/gpu/peer-attention-last.jsonl) or a
# fresh peer run (PEER=fresh). Writes $OUT/{tests,memcheck,sass,attention}.txt.
set -uo pipefail
OUT=${OUT:-/tmp/sl-gpu}; mkdir -p "$OUT"
G=${GPU_DIR:-.gpu}
# The runtime looks for the shim in build/ or .gpu/; point it at this bundle's copy.
export SPARSELAB_CUDA_ADDON=${SPARSELAB_CUDA_ADDON:-$PWD/$G/sparselab_cuda.node}
xz -dc "$G/node.xz" > /usr/local/bin/node && chmod +x /usr/local/bin/node
nvidia-smi --query-gpu=name,driver_version,clocks.sm,temperature.gpu --format=csv,noheader | tee "$OUT/gpu.txt"
export SPARSELAB_CACHE_DIR=/tmp/sl-cache
SPARSELAB_DEBUG=1 timeout 150 node --test "$G/attention.test.mjs" > "$OUT/tests.txt" 2>&1
grep -E "^# (tests|pass|fail)|^not ok|registers" "$OUT/tests.txt" | sort | uniq -c | head -40
timeout 150 compute-sanitizer --tool memcheck --target-processes all node --test-name-pattern="wgmma (tma|tma pingpong|tma, no pingpong|tma, static order|tma, CTA per item|tma, 3-head sections, [26] stages|tma, lazy rescale|cp.async)\]: (dense GQA 4:1|causal, kv block 256|document mask via a table, 128|per-head|many items: causal)" "$G/attention.test.mjs" > "$OUT/memcheck.txt" 2>&1
echo "memcheck exit $?"; grep -E "ERROR SUMMARY|^# (pass|fail)" "$OUT/memcheck.txt"
for f in "$SPARSELAB_CACHE_DIR"/cuda/attention_sm90_*.cubin; do
  echo "$(basename "$f"): HGMMA $(cuobjdump -sass "$f" | grep -c HGMMA), LDL/STL $(cuobjdump -sass "$f" | grep -cE 'LDL|STL')"
done > "$OUT/sass.txt"
echo "cubins: $(wc -l < "$OUT/sass.txt"), without HGMMA: $(grep -c 'HGMMA 0,' "$OUT/sass.txt"), with local memory: $(grep -vc 'LDL/STL 0$' "$OUT/sass.txt")"
PEER=${PEER:-bench/gpu/peer-attention-last.jsonl}
if [ "$PEER" = fresh ]; then
  PYTHONUNBUFFERED=1 timeout ${PEER_TIMEOUT:-240} python3 bench/gpu/peer_attention.py > "$OUT/peer_attention.jsonl" 2> "$OUT/peer_attention.err"
  PEER="$OUT/peer_attention.jsonl"
fi
node "$G/bench-gpu-attention.mjs" "$PEER" 2>&1 | grep -v '^{' | tee "$OUT/attention.txt"
