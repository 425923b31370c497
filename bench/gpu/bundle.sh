#!/usr/bin/env bash
# Bundles the GPU tests and benchmarks (with the library inlined) into .gpu/ for the device
# machine, which has no Node or npm: ../shared/gpu/pack.sh supplies node.xz; the CUDA shim is the
# one node-gyp built here (it dlopens libcuda/NVRTC there); mathjs's single-file build is copied
# because the expression language loads it at run time.
set -euo pipefail
# GPU_DIR (default .gpu) lets several engineers bundle side by side without overwriting each
# other's bundle; carry that folder and pass the same GPU_DIR to run-all.sh.
cd "$(git rev-parse --show-toplevel)"
G=${GPU_DIR:-.gpu}
bash ../shared/gpu/pack.sh > /dev/null
mkdir -p "$G"
[ "$G" = .gpu ] || cp .gpu/node.xz "$G/"
cp build/Release/sparselab_cuda.node "$G/"
mkdir -p "$G/node_modules/mathjs/lib/browser"
cp node_modules/mathjs/package.json "$G/node_modules/mathjs/"
cp node_modules/mathjs/lib/browser/math.js node_modules/mathjs/lib/browser/package.json "$G/node_modules/mathjs/lib/browser/"
for t in test/gpu/*.test.ts; do n=$(basename "$t" .ts); npx esbuild "$t" --bundle --platform=node --format=esm --outfile="$G/$n.mjs" --log-level=error; done
for b in attention moe runtime; do npx esbuild "bench/gpu/$b.ts" --bundle --platform=node --format=esm --outfile="$G/bench-gpu-$b.mjs" --log-level=error; done
du -sh "$G"
