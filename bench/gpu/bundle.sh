#!/usr/bin/env bash
# Bundles the GPU tests and benchmarks (with the library inlined) into .gpu/ for the device
# machine, which has no Node or npm: ../shared/gpu/pack.sh supplies node.xz; the CUDA shim is the
# one node-gyp built here (it dlopens libcuda/NVRTC there); mathjs's single-file build is copied
# because the expression language loads it at run time.
set -euo pipefail
cd "$(git rev-parse --show-toplevel)"
bash ../shared/gpu/pack.sh > /dev/null
cp build/Release/sparselab_cuda.node .gpu/
mkdir -p .gpu/node_modules/mathjs/lib/browser
cp node_modules/mathjs/package.json .gpu/node_modules/mathjs/
cp node_modules/mathjs/lib/browser/math.js node_modules/mathjs/lib/browser/package.json .gpu/node_modules/mathjs/lib/browser/
for t in attention moe sparse; do npx esbuild "test/gpu/$t.test.ts" --bundle --platform=node --format=esm --outfile=".gpu/$t.test.mjs" --log-level=error; done
for b in attention moe; do npx esbuild "bench/gpu/$b.ts" --bundle --platform=node --format=esm --outfile=".gpu/bench-gpu-$b.mjs" --log-level=error; done
du -sh .gpu
