/**
 * Real Q/K/V in: tensors exported from PyTorch as safetensors or .npy, validated and put in
 * sparselab's [B, H, S, D] layout.
 */
import { argError, fmtShape, SparselabError } from "../../errors.js";
import { Tensor } from "../../tensor/tensor.js";
import { loadSafetensors } from "../../tensor/io/safetensors.js";
import { loadNpy } from "../../tensor/io/npy.js";

/** Options of {@link loadQKV}. */
export interface LoadQKVOptions {
  /** Names of the three tensors in a safetensors file. Default { q: "q", k: "k", v: "v" }. */
  names?: { q?: string; k?: string; v?: string };
  /**
   * Axis order in the file: "BHSD" (PyTorch SDPA, default) or "BSHD" (flash-attn, HF
   * before transpose). 3-D tensors are read as [H, S, D] / [S, H, D] with B = 1.
   */
  layout?: "BHSD" | "BSHD";
}

/** Loaded attention inputs in [B, H, S, D], f32 / f16 / bf16 as stored. */
export interface QKV {
  q: Tensor;
  k: Tensor;
  v: Tensor;
  /** Where they came from. */
  source: string;
}

/**
 * Loads Q, K, V from one safetensors file (three named tensors) or from three .npy files,
 * checks they form an attention call (same batch and head dim, KV heads dividing query heads,
 * K and V of one length, a float dtype) and returns them as [B, H, S, D].
 *
 * Export from PyTorch, e.g. `safetensors.torch.save_file({"q": q, "k": k, "v": v}, "layer3.safetensors")`
 * (q of shape [B, H, S, D] after the rotary embedding), or `numpy.save("q.npy", q.float().numpy())`.
 *
 * @example
 * const { q, k, v } = await sl.workloads.loadQKV("layer3.safetensors");
 * const { q: q2, k: k2, v: v2 } = await sl.workloads.loadQKV({ q: "q.npy", k: "k.npy", v: "v.npy" }, { layout: "BSHD" });
 */
export async function loadQKV(source: string | { q: string; k: string; v: string }, opts: LoadQKVOptions = {}): Promise<QKV> {
  const op = "workloads.loadQKV";
  const layout = opts.layout ?? "BHSD";
  if (layout !== "BHSD" && layout !== "BSHD") argError(op, "layout", '"BHSD" or "BSHD"', String(layout));
  let raw: { q: Tensor; k: Tensor; v: Tensor };
  let where: string;
  if (typeof source === "string") {
    const names = { q: opts.names?.q ?? "q", k: opts.names?.k ?? "k", v: opts.names?.v ?? "v" };
    const { tensors } = await loadSafetensors(source);
    for (const role of ["q", "k", "v"] as const)
      if (!(names[role] in tensors))
        throw new SparselabError(op, `'${source}' has no tensor '${names[role]}' for ${role}; it holds: ${Object.keys(tensors).join(", ") || "nothing"} (pass opts.names)`);
    raw = { q: tensors[names.q], k: tensors[names.k], v: tensors[names.v] };
    where = source;
  } else if (source && typeof source === "object" && typeof source.q === "string" && typeof source.k === "string" && typeof source.v === "string") {
    raw = { q: await loadNpy(source.q), k: await loadNpy(source.k), v: await loadNpy(source.v) };
    where = `${source.q}, ${source.k}, ${source.v}`;
  } else {
    return argError(op, "source", "a safetensors path or { q, k, v } .npy paths", JSON.stringify(source));
  }
  const fix = (role: string, t: Tensor): Tensor => {
    if (t.dtype !== "f32" && t.dtype !== "f16" && t.dtype !== "bf16") argError(op, role, "a float tensor", `dtype ${t.dtype} in ${where}`);
    if (t.ndim !== 3 && t.ndim !== 4) argError(op, role, `a 3-D or 4-D tensor (${layout})`, `shape ${fmtShape(t.shape)} in ${where}`);
    const s4 = t.ndim === 3 ? [1, ...t.shape] : [...t.shape];
    if (layout === "BHSD") return t.ndim === 3 ? new Tensor(s4, t.dtype, t.data) : t;
    const [B, S, H, D] = s4;
    const src = t.data;
    const out = new (src.constructor as { new (n: number): typeof src })(src.length);
    for (let b = 0; b < B; b++) for (let s = 0; s < S; s++) for (let h = 0; h < H; h++) {
      const from = ((b * S + s) * H + h) * D;
      out.set(src.subarray(from, from + D), ((b * H + h) * S + s) * D);
    }
    return new Tensor([B, H, S, D], t.dtype, out);
  };
  const q = fix("q", raw.q);
  const k = fix("k", raw.k);
  const v = fix("v", raw.v);
  const [B, Hq, , D] = q.shape;
  const [Bk, Hkv, Skv, Dk] = k.shape;
  if (Bk !== B || Dk !== D || Hq % Hkv !== 0)
    argError(op, "k", `[${B}, a divisor of ${Hq}, S, ${D}] to match q ${fmtShape(q.shape)}`, `shape ${fmtShape(k.shape)}`);
  if (v.shape[0] !== B || v.shape[1] !== Hkv || v.shape[2] !== Skv)
    argError(op, "v", `[${B}, ${Hkv}, ${Skv}, Dv] to match k ${fmtShape(k.shape)}`, `shape ${fmtShape(v.shape)}`);
  return { q, k, v, source: where };
}
