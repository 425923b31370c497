#!/usr/bin/env bash
# Packs what the kernel needs to run the tutorial notebooks on the device machine (which has no
# Node or npm): the built dist/, both addons, the production dependencies (zeromq's Linux x64
# prebuilds only), @types/node for the cell checker, and the notebooks, into .gpu-nb/sl.tar.xz
# beside a Node binary. Then on the device (carry .gpu-nb): bash bench/gpu/run-notebooks.sh
set -euo pipefail
cd "$(git rev-parse --show-toplevel)"
bash ../shared/gpu/pack.sh > /dev/null
mkdir -p .gpu-nb && cp .gpu/node.xz .gpu-nb/
deps=$(npm ls --omit=dev --parseable --all 2>/dev/null | sed "s#^$PWD/##" | grep '^node_modules/' | awk -F/ '{ if ($2 ~ /^@/) print $1"/"$2"/"$3; else print $1"/"$2 }' | sort -u)
tar -cJf .gpu-nb/sl.tar.xz --exclude='node_modules/zeromq/build/darwin' --exclude='node_modules/zeromq/build/win32' \
  --exclude='node_modules/zeromq/build/linux/arm64' --exclude='node_modules/zeromq/src' \
  package.json dist build/Release/sparselab_cpu.node build/Release/sparselab_cuda.node notebooks lib/backends/cuda/kernels \
  $deps node_modules/@types/node node_modules/undici-types
du -sh .gpu-nb
