/**
 * The JS reference tensor ops ("matmul", "softmax", "topk", "blockPool", "groupedGemm"): each
 * module registers itself with the registry on import; this file imports them all so the JS
 * backend is complete without going through lib/index.ts.
 */
import "../../tensor/ops/matmul.js";
import "../../tensor/ops/softmax.js";
import "../../tensor/ops/topk.js";
import "../../tensor/ops/block-pool.js";
import "../../tensor/ops/grouped-gemm.js";
