# The PyTorch peer for the MoE grouped GEMM (anchors: moe-catalog.md): T=16384 tokens, top-6 of 64
# experts, d_model 2048, d_ff 1408, bf16; one GEMM of the expert MLP ([T*k, 2048] x [64, 2048, 1408]),
# equal group sizes (1536 rows each), and a ragged split (the same integers bench/gpu/moe.ts uses).
# torch._grouped_mm, a per-expert torch.mm loop, and one dense matmul with the same FLOPs. Prints
# JSON lines.
import json
import torch
from peer_timing import bench

torch.manual_seed(0)
T, k, E, d, f = 16384, 6, 64, 2048, 1408
rows = T * k
x = torch.randn(rows, d, device="cuda", dtype=torch.bfloat16)
# _grouped_mm wants the second operand's last two dims column-major.
w = torch.randn(E, f, d, device="cuda", dtype=torch.bfloat16).transpose(-2, -1)
offs = torch.arange(1, E + 1, device="cuda", dtype=torch.int32) * (rows // E)


flops = 2 * rows * d * f
ms = bench(lambda: torch._grouped_mm(x, w, offs=offs))
print(json.dumps({"peer": "torch._grouped_mm", "ms": ms, "tflops": flops / ms / 1e9}), flush=True)
wt = [32 + (e * 37) % 64 for e in range(E)]
sizes = [8 * ((rows // 8) * wt[e] // sum(wt)) for e in range(E - 1)]
sizes.append(rows - sum(sizes))
offs_r = torch.tensor(sizes, device="cuda", dtype=torch.int32).cumsum(0, dtype=torch.int32)
ms = bench(lambda: torch._grouped_mm(x, w, offs=offs_r))
print(json.dumps({"peer": "torch._grouped_mm ragged", "ms": ms, "tflops": flops / ms / 1e9}), flush=True)
chunks = x.split(rows // E)
ms = bench(lambda: [torch.mm(c, w[i]) for i, c in enumerate(chunks)])
print(json.dumps({"peer": "per-expert torch.mm", "ms": ms, "tflops": flops / ms / 1e9}), flush=True)
wd = torch.randn(d, f, device="cuda", dtype=torch.bfloat16)
ms = bench(lambda: torch.mm(x, wd))
print(json.dumps({"peer": "dense torch.mm", "ms": ms, "tflops": flops / ms / 1e9}), flush=True)
