/**
 * The JS reference backend: importing this module registers every JS op with the registry.
 * Each op's module registers itself on import (so a test can import one op alone); this file
 * only makes sure they are all imported. lib/index.ts imports it once.
 *
 * Where they live: attention ops and the estimator primitives (antidiagScores, colDiagSums)
 * here; the tensor ops beside their public wrappers in
 * lib/tensor/ops (owned by the tensor area).
 */
import "./attention.js";
import "./decode-attention.js";
import "./antidiag-scores.js";
import "./col-diag-sums.js";
import "../../tensor/ops/matmul.js";
import "../../tensor/ops/softmax.js";
import "../../tensor/ops/topk.js";
import "../../tensor/ops/block-pool.js";
import "../../tensor/ops/grouped-gemm.js";
