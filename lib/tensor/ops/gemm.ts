/**
 * The JS reference's matrix-product kernel, shared by "matmul" and "groupedGemm".
 *
 * Readable form (what it computes):
 *   for i < M: for k < K: for j < N: C[i, j] += A[i, k] * B[k, j]
 *
 * How: the classic packed-panel scheme. For each block of KC values of k, B's rows are packed
 * into panels of NR = 4 columns (contiguous, zero-padded past N), then a 4 x 4 block of C is
 * accumulated in 16 locals over the block's k (8 loads feed 16 multiply-adds instead of the
 * i-k-j loop's load-load-store per multiply-add), in row strips of MC rows so the A strip stays
 * in cache. Locals are float64, rounded into C (f32) once per k-block: at least f32 accuracy.
 * B is read through strides so b^T (transB) needs no transposed copy.
 */

const MR = 4;
const NR = 4;
const KC = 256;
const MC = 64;

/**
 * C[cOff + i*N + j] += sum_k A[aOff + i*K + k] * B[bOff + k*bK + j*bN] for i < M, j < N.
 * (bK, bN) = (N, 1) for b [K, N]; (1, K) for b given as [N, K] (transB).
 */
export function gemm(
  A: Float32Array, aOff: number,
  B: Float32Array, bOff: number, bK: number, bN: number,
  C: Float32Array, cOff: number,
  M: number, K: number, N: number,
): void {
  if (M === 0 || N === 0 || K === 0) return;
  const panels = Math.ceil(N / NR);
  const Bp = new Float32Array(Math.min(KC, K) * panels * NR);
  for (let k0 = 0; k0 < K; k0 += KC) {
    const kc = Math.min(KC, K - k0);
    // Bp[p][k][c] = B[k0 + k, p*NR + c], zero past N.
    for (let p = 0; p < panels; p++) {
      const base = p * kc * NR;
      for (let c = 0; c < NR; c++) {
        const j = p * NR + c;
        if (j >= N) {
          for (let k = 0; k < kc; k++) Bp[base + k * NR + c] = 0;
          continue;
        }
        let s = bOff + k0 * bK + j * bN;
        for (let k = 0; k < kc; k++, s += bK) Bp[base + k * NR + c] = B[s];
      }
    }
    for (let i0 = 0; i0 < M; i0 += MC) {
      const i1 = Math.min(M, i0 + MC);
      for (let p = 0; p < panels; p++) {
        const j = p * NR;
        const nr = Math.min(NR, N - j);
        const bp = p * kc * NR;
        let i = i0;
        for (; i + MR <= i1; i += MR) {
          let c00 = 0, c01 = 0, c02 = 0, c03 = 0, c10 = 0, c11 = 0, c12 = 0, c13 = 0;
          let c20 = 0, c21 = 0, c22 = 0, c23 = 0, c30 = 0, c31 = 0, c32 = 0, c33 = 0;
          const a0 = aOff + i * K + k0, a1 = a0 + K, a2 = a1 + K, a3 = a2 + K;
          for (let k = 0, q = bp; k < kc; k++, q += NR) {
            const b0 = Bp[q], b1 = Bp[q + 1], b2 = Bp[q + 2], b3 = Bp[q + 3];
            const x0 = A[a0 + k], x1 = A[a1 + k], x2 = A[a2 + k], x3 = A[a3 + k];
            c00 += x0 * b0; c01 += x0 * b1; c02 += x0 * b2; c03 += x0 * b3;
            c10 += x1 * b0; c11 += x1 * b1; c12 += x1 * b2; c13 += x1 * b3;
            c20 += x2 * b0; c21 += x2 * b1; c22 += x2 * b2; c23 += x2 * b3;
            c30 += x3 * b0; c31 += x3 * b1; c32 += x3 * b2; c33 += x3 * b3;
          }
          const o = cOff + i * N + j;
          store4(C, o, nr, c00, c01, c02, c03);
          store4(C, o + N, nr, c10, c11, c12, c13);
          store4(C, o + 2 * N, nr, c20, c21, c22, c23);
          store4(C, o + 3 * N, nr, c30, c31, c32, c33);
        }
        for (; i < i1; i++) {
          let c0 = 0, c1 = 0, c2 = 0, c3 = 0;
          const a0 = aOff + i * K + k0;
          for (let k = 0, q = bp; k < kc; k++, q += NR) {
            const x = A[a0 + k];
            c0 += x * Bp[q]; c1 += x * Bp[q + 1]; c2 += x * Bp[q + 2]; c3 += x * Bp[q + 3];
          }
          store4(C, cOff + i * N + j, nr, c0, c1, c2, c3);
        }
      }
    }
  }
}

function store4(C: Float32Array, o: number, nr: number, v0: number, v1: number, v2: number, v3: number): void {
  C[o] += v0;
  if (nr > 1) C[o + 1] += v1;
  if (nr > 2) C[o + 2] += v2;
  if (nr > 3) C[o + 3] += v3;
}
