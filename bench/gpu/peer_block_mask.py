# PyTorch's create_block_mask at S=16384, H=16 (B=1, 128x128 blocks) for the masks bench/gpu/runtime.ts
# builds on the GPU: sliding windows, causal, documents, and a mask that reads h. Timed like the
# attention peer (CUDA events, median), eager (the default), one JSON line per mask.
import json, sys
import torch
from peer_timing import bench as peer_bench
from torch.nn.attention.flex_attention import create_block_mask

dev = "cuda"
S, H = 16384, 16


def bench(fn):
    return peer_bench(fn, iters=10, warmup=2)

# documents of 1024 tokens each (ids identical to runtime.ts's)
doc = (torch.arange(S, device=dev) // 1024).to(torch.int32)
masks = {
    "window256": lambda b, h, q, kv: (q >= kv) & (q - kv < 256),
    "window1024": lambda b, h, q, kv: (q >= kv) & (q - kv < 1024),
    "window4096": lambda b, h, q, kv: (q >= kv) & (q - kv < 4096),
    "causal": lambda b, h, q, kv: q >= kv,
    "document": lambda b, h, q, kv: doc[q] == doc[kv],
    "head_dependent": lambda b, h, q, kv: (q >= kv) & (q - kv < 256 * (h + 1)),
}
for name, fn in masks.items():
    ms = bench(lambda: create_block_mask(fn, 1, H, S, S, device=dev))
    print(json.dumps({"peer": "create_block_mask", "mask": name, "S": S, "H": H, "ms": ms}), flush=True)
