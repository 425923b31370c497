# The PyTorch peer for bench/gpu: SDPA (FlashAttention/cuDNN) and FlexAttention (torch.compile)
# on the shapes of anchors.md, bf16, B=1, H=16. Prints one JSON line per measurement; the node
# side (bench/gpu/attention.ts) prints ours and the ratios. Median of CUDA-event timings.
import json, sys, time
import torch
from peer_timing import bench
import torch._dynamo
# Each shape and block mask compiles anew; past the default cache limit (8) torch falls back to
# the slow eager path, which would make the peer look far slower than it is.
torch._dynamo.config.cache_size_limit = 128
import torch.nn.functional as F
from torch.nn.attention.flex_attention import flex_attention, create_block_mask

torch.manual_seed(0)
dev = "cuda"
flex = torch.compile(flex_attention, dynamic=False)


def emit(**kw):
    print(json.dumps(kw), flush=True)

which = sys.argv[1] if len(sys.argv) > 1 else "all"
H = 16
for S, D in [(4096, 64), (4096, 128), (16384, 64), (16384, 128)]:
    q, k, v = (torch.randn(1, H, S, D, device=dev, dtype=torch.bfloat16) for _ in range(3))
    for causal in (False, True):
        ms = bench(lambda: F.scaled_dot_product_attention(q, k, v, is_causal=causal))
        emit(peer="sdpa", S=S, D=D, kind="causal" if causal else "dense", ms=ms)
        if causal:
            bm = create_block_mask(lambda b, h, qi, kv: qi >= kv, None, None, S, S, device=dev)
            ms = bench(lambda: flex(q, k, v, block_mask=bm))
        else:
            ms = bench(lambda: flex(q, k, v))
        emit(peer="flex", S=S, D=D, kind="causal" if causal else "dense", ms=ms)
    del q, k, v
S, D = 16384, 128
q, k, v = (torch.randn(1, H, S, D, device=dev, dtype=torch.bfloat16) for _ in range(3))
for w in (256, 1024, 4096):
    def sw(b, h, qi, kv, w=w):
        return (qi >= kv) & (qi - kv < w)
    bm = create_block_mask(sw, None, None, S, S, device=dev)
    ms = bench(lambda: flex(q, k, v, block_mask=bm))
    emit(peer="flex", S=S, D=D, kind=f"window{w}", ms=ms)
    t = bench(lambda: create_block_mask(sw, 1, H, S, S, device=dev), iters=10, warmup=2)
    emit(peer="flex", S=S, D=D, kind=f"create_block_mask_window{w}", ms=t)
