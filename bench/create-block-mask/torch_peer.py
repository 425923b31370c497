"""PyTorch peer for bench/create-block-mask: FlexAttention's create_block_mask on the same masks.

    python3 bench/create-block-mask/torch_peer.py [--device cuda|cpu] [--sizes 16384,65536,131072] [--compile]

Sliding window 256 (q - kv < 256, causal), causal, and 16 equal documents with causal inside,
H = 16, B = 1, block 128; median of several runs after a warm-up, synchronising the device.
Prints one JSON line per case.
"""
import argparse, json, statistics, time

import torch
from torch.nn.attention.flex_attention import create_block_mask

ap = argparse.ArgumentParser()
ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
ap.add_argument("--sizes", default="16384,65536,131072")
ap.add_argument("--masks", default="sliding_window_256,causal,document_16_causal")
ap.add_argument("--heads", default="16,broadcast")
ap.add_argument("--compile", action="store_true", help="create_block_mask(..., _compile=True): chunked, compiled mask evaluation")
a = ap.parse_args()
dev = a.device


def sync():
    if dev == "cuda":
        torch.cuda.synchronize()


for S in [int(s) for s in a.sizes.split(",")]:
    doc = (torch.arange(S, device=dev) * 16) // S
    cases = {
        "sliding_window_256": lambda b, h, q, kv: (q >= kv) & (q - kv < 256),
        "causal": lambda b, h, q, kv: q >= kv,
        "document_16_causal": lambda b, h, q, kv: (doc[q] == doc[kv]) & (q >= kv),
    }
    for name, fn in cases.items():
        if name not in a.masks.split(","):
            continue
        for H in [None if x == "broadcast" else int(x) for x in a.heads.split(",")]:
            try:
                create_block_mask(fn, 1, H, S, S, device=dev, BLOCK_SIZE=128, _compile=a.compile)  # warm-up
                sync()
                times = []
                runs = 7 if S <= 16384 else 3
                for _ in range(runs):
                    if dev == "cuda":
                        torch.cuda.reset_peak_memory_stats()
                    base = torch.cuda.memory_allocated() if dev == "cuda" else 0
                    t0 = time.perf_counter()
                    bm = create_block_mask(fn, 1, H, S, S, device=dev, BLOCK_SIZE=128, _compile=a.compile)
                    sync()
                    times.append((time.perf_counter() - t0) * 1e3)
                    peak = (torch.cuda.max_memory_allocated() - base) if dev == "cuda" else None
                    del bm
                print(json.dumps({"peer": "torch.create_block_mask" + ("(_compile=True)" if a.compile else ""), "torch": torch.__version__, "device": dev, "mask": name, "S": S,
                                  "H": H if H else "broadcast", "median_ms": round(statistics.median(times), 3), "runs": runs,
                                  "peak_mib": round(peak / 2**20, 1) if peak is not None else None}), flush=True)
            except Exception as e:  # noqa: BLE001 - report and continue with the next case
                print(json.dumps({"mask": name, "S": S, "H": H, "error": repr(e)[:300]}), flush=True)
