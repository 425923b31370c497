/**
 * Row-wise math over row-major [rows, cols] Float32Arrays: the JS reference the routers use.
 * Sums run in float64 (JS numbers) so the reference is more accurate than any f32 kernel.
 */

/** softmax along each row of x [rows, cols]; a row of all −∞ gives all zeros (nothing to pick). */
export function softmaxRows(x: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(rows * cols);
  const row = new Float64Array(cols);
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    let m = -Infinity;
    for (let j = 0; j < cols; j++) if (x[o + j] > m) m = x[o + j];
    if (m === -Infinity) continue;
    let s = 0;
    for (let j = 0; j < cols; j++) {
      const e = Math.exp(x[o + j] - m);
      row[j] = e;
      s += e;
    }
    for (let j = 0; j < cols; j++) out[o + j] = row[j] / s;
  }
  return out;
}

/** log Σ exp(x) of one row, stable. */
export function logsumexpRow(x: ArrayLike<number>, offset: number, cols: number): number {
  let m = -Infinity;
  for (let j = 0; j < cols; j++) if (x[offset + j] > m) m = x[offset + j];
  if (m === -Infinity) return -Infinity;
  let s = 0;
  for (let j = 0; j < cols; j++) s += Math.exp(x[offset + j] - m);
  return m + Math.log(s);
}

export function sigmoid(v: number): number {
  return v >= 0 ? 1 / (1 + Math.exp(-v)) : Math.exp(v) / (1 + Math.exp(v));
}

/** log(1 + e^v) without overflow. */
export function softplus(v: number): number {
  return v > 20 ? v : Math.log1p(Math.exp(v));
}

/**
 * Indices of the k largest values of `get(0..n-1)`, best first; ties go to the lower index
 * (the "topk" op contract in lib/backends/ops.ts). Values equal to −∞ are never picked while
 * a finite value is left; when fewer than k finite values exist the rest are −∞ picks in
 * index order, which callers treat as masked.
 */
export function topkIndices(get: (j: number) => number, n: number, k: number, out: Int32Array, outOffset = 0): void {
  // Insertion into a sorted buffer: O(n·k), fine for k ≤ 16 and readable.
  const vals = new Float64Array(k).fill(-Infinity);
  const idx = new Int32Array(k).fill(-1);
  let filled = 0;
  for (let j = 0; j < n; j++) {
    const v = get(j);
    if (filled === k && !(v > vals[k - 1])) continue;
    let p = filled < k ? filled : k - 1;
    // Strictly greater moves an entry down, so an equal value stays behind the earlier index.
    while (p > 0 && v > vals[p - 1]) {
      vals[p] = vals[p - 1];
      idx[p] = idx[p - 1];
      p--;
    }
    vals[p] = v;
    idx[p] = j;
    if (filled < k) filled++;
  }
  for (let i = 0; i < k; i++) out[outOffset + i] = idx[i];
}

/**
 * x [rows, inner] @ w [inner, cols] -> [rows, cols], f32 storage and f64 row accumulation
 * kept in the output row (i-k-j order so the inner loop streams both w and the output).
 */
export function matmulRows(x: Float32Array, w: Float32Array, rows: number, inner: number, cols: number): Float32Array {
  const out = new Float32Array(rows * cols);
  const acc = new Float64Array(cols);
  for (let r = 0; r < rows; r++) {
    acc.fill(0);
    const xo = r * inner;
    for (let i = 0; i < inner; i++) {
      const a = x[xo + i];
      if (a === 0) continue;
      const wo = i * cols;
      for (let j = 0; j < cols; j++) acc[j] += a * w[wo + j];
    }
    out.set(acc, r * cols);
  }
  return out;
}
