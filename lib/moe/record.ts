import { DISPLAY, type MimeBundle } from "../display.js";
import { Tensor } from "../tensor/tensor.js";
import type { DroppedAssignment, DropPolicy } from "./capacity.js";
import type { RoutingLosses } from "./losses.js";

/** The router kinds `route()` knows, plus "trace" for records read from routing traces. */
export type RouterKind =
  | "softmax-topk"
  | "topk-softmax"
  | "noisy-topk"
  | "switch"
  | "gshard"
  | "deepseek-v3"
  | "expert-choice"
  | "hash"
  | "sinkhorn"
  | "trace";

/** The fields of a routing record (stable: widgets and figures read them). */
export interface RoutingRecordFields {
  router: RouterKind;
  numTokens: number;
  numExperts: number;
  /** Slots per token. */
  k: number;
  /** Per-expert capacity; null = dropless. */
  capacity: number | null;
  /** The policy that chose whom to drop (meaningful when capacity is set). */
  dropPolicy: DropPolicy;
  /** i32 [T, k]: experts the router chose, best first; −1 = empty slot. Dropped ones stay listed (see `kept`). */
  indices: Tensor<"i32">;
  /** f32 [T, k]: combine weights; 0 for dropped assignments and empty slots. */
  weights: Tensor<"f32">;
  /** u8 [T, k]: 1 where the assignment survived capacity. */
  kept: Tensor<"u8">;
  /** f32 [T, E]: the router's probabilities (see RouterOutput.probs); null if unknown (traces). */
  probs: Tensor<"f32"> | null;
  /** Kept assignments per expert. */
  counts: Int32Array;
  /** Assignments per expert before capacity. */
  routedCounts: Int32Array;
  /** Every assignment capacity removed, in token order. */
  dropped: DroppedAssignment[];
  losses: RoutingLosses;
  /** Router-specific facts (Sinkhorn iterations, skipped second experts, ...). */
  details: Record<string, unknown>;
  /** Layer index when the record comes from a model or a trace. */
  layer?: number;
}

/**
 * What routing produced: who goes where, with which weight, what was dropped, and the losses.
 * Displays itself in a notebook as a compact summary (load per expert, drops, losses).
 * @example
 * const r = sl.moe.route(logits, { router: "softmax-topk", k: 2, capacityFactor: 1 });
 * r.counts;          // Int32Array of kept tokens per expert
 * r.dropped.length;  // assignments over capacity
 * display(r);
 */
export class RoutingRecord implements RoutingRecordFields {
  readonly router!: RouterKind;
  readonly numTokens!: number;
  readonly numExperts!: number;
  readonly k!: number;
  readonly capacity!: number | null;
  readonly dropPolicy!: DropPolicy;
  readonly indices!: Tensor<"i32">;
  readonly weights!: Tensor<"f32">;
  readonly kept!: Tensor<"u8">;
  readonly probs!: Tensor<"f32"> | null;
  readonly counts!: Int32Array;
  readonly routedCounts!: Int32Array;
  readonly dropped!: DroppedAssignment[];
  readonly losses!: RoutingLosses;
  readonly details!: Record<string, unknown>;
  readonly layer?: number;

  constructor(f: RoutingRecordFields) {
    Object.assign(this, f);
  }

  /** Assignments made (non-empty slots), kept + dropped. */
  get assignments(): number {
    let n = 0;
    for (const c of this.routedCounts) n += c;
    return n;
  }

  /**
   * Plain JSON (typed arrays as number arrays, tensors as { shape, data }) for widgets, comms
   * and files.
   * @example
   * JSON.stringify(record)   // uses toJSON
   */
  toJSON(): Record<string, unknown> {
    const t = (x: Tensor | null) => (x ? { shape: [...x.shape], data: Array.from(x.data as ArrayLike<number>) } : null);
    return {
      router: this.router,
      numTokens: this.numTokens,
      numExperts: this.numExperts,
      k: this.k,
      capacity: this.capacity,
      dropPolicy: this.dropPolicy,
      indices: t(this.indices),
      weights: t(this.weights),
      kept: t(this.kept),
      probs: t(this.probs),
      counts: Array.from(this.counts),
      routedCounts: Array.from(this.routedCounts),
      dropped: this.dropped,
      losses: this.losses,
      details: this.details,
      ...(this.layer !== undefined ? { layer: this.layer } : {}),
    };
  }

  /** One-line-per-fact summary. */
  toString(): string {
    return summaryLines(this).join("\n");
  }

  [DISPLAY](): MimeBundle {
    return { "text/plain": this.toString(), "text/html": summaryHtml(this) };
  }
}

function loadStats(counts: Int32Array): { mean: number; max: number; min: number; cv: number } {
  const E = counts.length;
  let sum = 0;
  let max = -Infinity;
  let min = Infinity;
  for (const c of counts) {
    sum += c;
    max = Math.max(max, c);
    min = Math.min(min, c);
  }
  const mean = sum / E;
  let v = 0;
  for (const c of counts) v += (c - mean) ** 2;
  return { mean, max, min, cv: mean > 0 ? Math.sqrt(v / E) / mean : 0 };
}

function fmt(x: number): string {
  return Math.abs(x) >= 1e4 || (x !== 0 && Math.abs(x) < 1e-3) ? x.toExponential(3) : String(Number(x.toFixed(4)));
}

function lossText(r: RoutingRecord): string[] {
  const out: string[] = [];
  const lb = r.losses.loadBalancing;
  if (lb) out.push(`load-balancing loss (${lb.normalization} normalization, coeff ${fmt(lb.coeff)}): ${fmt(lb.value)}  [unscaled: transformers ${fmt(lb.unscaled.transformers)}, megatron ${fmt(lb.unscaled.megatron)}]`);
  const sq = r.losses.sequenceBalancing;
  if (sq) out.push(`sequence-level balance loss (seqLen ${sq.seqLen}, ${sq.sequences} sequences, coeff ${fmt(sq.coeff)}): ${fmt(sq.value)}`);
  if (r.losses.zLoss) out.push(`z-loss (coeff ${fmt(r.losses.zLoss.coeff)}): ${fmt(r.losses.zLoss.value)}`);
  return out;
}

function summaryLines(r: RoutingRecord): string[] {
  const s = loadStats(r.counts);
  const a = r.assignments;
  const lines = [
    `RoutingRecord(${r.router}${r.layer !== undefined ? `, layer ${r.layer}` : ""}): ${r.numTokens} tokens, ${r.numExperts} experts, k ${r.k}, ` +
      (r.capacity === null ? "dropless" : `capacity ${r.capacity} (${r.dropPolicy})`),
    `assignments ${a}: kept ${a - r.dropped.length}, dropped ${r.dropped.length}` +
      (r.dropped.length ? ` (${fmt((100 * r.dropped.length) / Math.max(1, a))}%, first at token ${r.dropped[0].token})` : ""),
    `load per expert: min ${s.min}, mean ${fmt(s.mean)}, max ${s.max}, max/mean ${fmt(s.mean ? s.max / s.mean : 0)}, CV ${fmt(s.cv)}`,
    `counts: [${Array.from(r.counts.slice(0, 32)).join(", ")}${r.numExperts > 32 ? ", ..." : ""}]`,
    ...lossText(r),
  ];
  const d = Object.entries(r.details).filter(([, v]) => typeof v !== "object");
  if (d.length) lines.push(`details: ${d.map(([k, v]) => `${k} ${typeof v === "number" ? fmt(v) : String(v)}`).join(", ")}`);
  return lines;
}

function esc(x: string): string {
  return x.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

function summaryHtml(r: RoutingRecord): string {
  const lines = summaryLines(r);
  const s = loadStats(r.counts);
  const max = Math.max(1, s.max);
  // A bar per expert (kept load; the dropped part in red), drawn with divs so it works offline.
  const bars = Array.from(r.counts, (c, e) => {
    const drop = r.routedCounts[e] - c;
    const h = Math.round((60 * c) / max);
    const hd = Math.round((60 * drop) / max);
    return `<div title="expert ${e}: ${c} kept${drop ? `, ${drop} dropped` : ""}" style="display:inline-block;width:${Math.max(2, Math.min(12, Math.floor(480 / r.numExperts)))}px;margin-right:1px;vertical-align:bottom">` +
      (hd ? `<div style="height:${hd}px;background:#d62728"></div>` : "") +
      `<div style="height:${h}px;background:#1f77b4"></div></div>`;
  }).join("");
  return `<div class="sparselab-routing"><b>${esc(lines[0])}</b><div style="height:64px;display:flex;align-items:flex-end;margin:4px 0">${bars}</div>` +
    `<pre style="margin:0">${esc(lines.slice(1).join("\n"))}</pre></div>`;
}
