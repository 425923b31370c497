"""Checks that block masks written by sparselab (export-for-torch.js) load into PyTorch's
BlockMask.from_kv_blocks and equal what PyTorch's create_block_mask makes for the same mask.

    python3 bench/create-block-mask/torch_check.py DIR
"""
import json, struct, sys
from pathlib import Path

import torch
from torch.nn.attention.flex_attention import BlockMask, create_block_mask

DT = {"I32": torch.int32, "F32": torch.float32, "U8": torch.uint8}


def load(path):
    raw = Path(path).read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    meta = header.pop("__metadata__", {})
    base = 8 + n
    out = {}
    for name, info in header.items():
        a, b = info["data_offsets"]
        out[name] = torch.frombuffer(bytearray(raw[base + a:base + b]), dtype=DT[info["dtype"]]).reshape(info["shape"])
    return out, meta


def docs(n, k):
    return (torch.arange(n) * k) // n


MODS = {
    "causal_1000": lambda b, h, q, kv: q >= kv,
    "sliding_window_256_4096": lambda b, h, q, kv: (q >= kv) & (q - kv < 256),
    "prefix_lm_300_2000": lambda b, h, q, kv: (kv < 300) | (q >= kv),
}
dev = "cuda" if torch.cuda.is_available() else "cpu"
ok = True
for path in sorted(Path(sys.argv[1]).glob("*.safetensors")):
    t, meta = load(path)
    bs = tuple(json.loads(meta["BLOCK_SIZE"]))
    seq = tuple(json.loads(meta["seq_lengths"]))
    key = path.stem
    if key.startswith("document"):
        d = docs(seq[0], 16).to(dev)
        mod = lambda b, h, q, kv, d=d: (d[q] == d[kv]) & (q >= kv)
    else:
        mod = MODS[key]
    ours = BlockMask.from_kv_blocks(t["kv_num_blocks"].to(dev), t["kv_indices"].to(dev), t["full_kv_num_blocks"].to(dev), t["full_kv_indices"].to(dev),
                                    BLOCK_SIZE=bs, mask_mod=mod, seq_lengths=seq)
    theirs = create_block_mask(mod, 1, t["kv_num_blocks"].shape[1], seq[0], seq[1], device=dev, BLOCK_SIZE=bs)
    # to_dense(): 1 where a tile is computed; compare partial and full sets separately too
    same_dense = torch.equal(ours.to_dense()[:1].cpu(), theirs.to_dense().expand_as(ours.to_dense()[:1]).cpu())
    same_counts = torch.equal(ours.kv_num_blocks.cpu(), theirs.kv_num_blocks.expand_as(ours.kv_num_blocks).cpu()) and \
        torch.equal(ours.full_kv_num_blocks.cpu(), theirs.full_kv_num_blocks.expand_as(ours.full_kv_num_blocks).cpu())
    # q-side lists we wrote must equal what from_kv_blocks derives
    same_q = torch.equal(t["q_num_blocks"], ours.q_num_blocks.cpu()) and torch.equal(t["full_q_num_blocks"], ours.full_q_num_blocks.cpu())
    print(json.dumps({"file": path.name, "BLOCK_SIZE": bs, "seq_lengths": seq, "dense_equal": same_dense, "partial_full_counts_equal": same_counts,
                      "q_lists_equal": same_q, "sparsity_ours": round(ours.sparsity(), 3), "sparsity_torch": round(theirs.sparsity(), 3)}))
    ok = ok and same_dense and same_counts and same_q
print("ALL OK" if ok else "MISMATCH")
sys.exit(0 if ok else 1)
