#!/usr/bin/env bash
# On the device machine: runs the tutorial notebooks through sparselab's own kernel (headless
# `sparselab run`), so the CUDA backend serves the cells; the executed pages go to $OUT/nb.
# Bundle here first: bash bench/gpu/bundle-notebooks.sh (carry .gpu-nb).
set -uo pipefail
OUT=${OUT:-/tmp/sl-gpu}; mkdir -p "$OUT/nb"
xz -dc .gpu-nb/node.xz > /usr/local/bin/node && chmod +x /usr/local/bin/node
mkdir -p /tmp/slnb && tar -xJf .gpu-nb/sl.tar.xz -C /tmp/slnb
cd /tmp/slnb
export SPARSELAB_CACHE_DIR=/tmp/sl-cache
node -e 'import("/tmp/slnb/dist/lib/index.js").then(async (sl) => { await sl.ready(); for (const b of sl.backends()) console.log(b.name, b.loaded, b.detail ?? b.reason ?? ""); })'
nb=${NOTEBOOKS:-notebooks/*.ipynb}
timeout ${NB_TIMEOUT:-420} node dist/kernel/cli.js run $nb --out "$OUT/nb" 2>&1 | tee "$OUT/notebooks.txt"
