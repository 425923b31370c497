/**
 * Capacity and dropping. capacity = ceil(T·k/E · CF); each expert keeps at most `capacity`
 * assignments and drops the rest, choosing whom to keep by arrival order ("position": token
 * order, the first come are kept, as Megatron), by slot then token ("slot-major": every token's
 * first choice before any second choice, as GShard / DeepSpeed's top2gating), or by weight
 * ("probs": the highest combine weights are kept, ties to the earlier token). No capacity
 * factor = dropless. Every drop is reported.
 */
export type DropPolicy = "position" | "slot-major" | "probs";

/** One assignment (token, slot) that capacity removed. */
export interface DroppedAssignment {
  /** Token index (its position in the batch). */
  token: number;
  /** Which of the token's k slots (0 = its best expert). */
  slot: number;
  expert: number;
  /** Its rank in the expert's queue under the drop policy (≥ capacity, 0-based). */
  position: number;
}

export interface CapacityResult {
  /** [T, k] 1 where the assignment survived (0 for dropped and for empty slots). */
  kept: Uint8Array;
  /** Kept assignments per expert [E]. */
  counts: Int32Array;
  /** Assignments per expert before capacity [E]. */
  routedCounts: Int32Array;
  dropped: DroppedAssignment[];
}

/**
 * The per-expert capacity for T tokens, k slots, E experts and capacity factor CF.
 * @example
 * sl.moe.expertCapacity(4096, 2, 8, 1.25)  // 1280
 */
export function expertCapacity(T: number, k: number, E: number, capacityFactor: number): number {
  // Round away float noise first: 4096·2/8·1.25 must be exactly 1280, not 1281.
  return Math.ceil(Number(((T * k * capacityFactor) / E).toPrecision(12)));
}

/** Applies capacity (or none) to a router's choices. */
export function applyCapacity(
  indices: Int32Array,
  weights: Float32Array,
  T: number,
  k: number,
  E: number,
  capacity: number | null,
  policy: DropPolicy,
): CapacityResult {
  const kept = new Uint8Array(T * k);
  const counts = new Int32Array(E);
  const routedCounts = new Int32Array(E);
  const dropped: DroppedAssignment[] = [];
  for (let a = 0; a < T * k; a++) if (indices[a] >= 0) routedCounts[indices[a]]++;
  if (capacity === null) {
    for (let a = 0; a < T * k; a++) if (indices[a] >= 0) kept[a] = 1;
    counts.set(routedCounts);
    return { kept, counts, routedCounts, dropped };
  }
  if (policy === "position" || policy === "slot-major") {
    // Token order (a token picks an expert at most once, so slot order never decides), or all
    // slot-0 assignments in token order, then slot 1, ...
    const seen = new Int32Array(E);
    for (let n = 0; n < T * k; n++) {
      const a = policy === "position" ? n : (n % T) * k + Math.floor(n / T);
      const e = indices[a];
      if (e < 0) continue;
      const rank = seen[e]++;
      if (counts[e] < capacity) {
        kept[a] = 1;
        counts[e]++;
      } else dropped.push({ token: Math.floor(a / k), slot: a % k, expert: e, position: rank });
    }
    if (policy === "slot-major") dropped.sort((x, y) => x.token - y.token || x.slot - y.slot);
    return { kept, counts, routedCounts, dropped };
  }
  // "probs": per expert, sort its assignments by weight (desc), then token (asc).
  const byExpert: number[][] = Array.from({ length: E }, () => []);
  for (let a = 0; a < T * k; a++) if (indices[a] >= 0) byExpert[indices[a]].push(a);
  for (let e = 0; e < E; e++) {
    const q = byExpert[e].sort((x, y) => weights[y] - weights[x] || x - y);
    for (let r = 0; r < q.length; r++) {
      const a = q[r];
      if (r < capacity) {
        kept[a] = 1;
        counts[e]++;
      } else dropped.push({ token: Math.floor(a / k), slot: a % k, expert: e, position: r });
    }
  }
  dropped.sort((x, y) => x.token - y.token || x.slot - y.slot);
  return { kept, counts, routedCounts, dropped };
}
