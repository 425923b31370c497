import { SparselabError } from "../errors.js";

/**
 * The backend registry. Every op has a JS implementation (the spec); native backends register
 * faster implementations of some ops when they load. A backend that fails to load records why,
 * once, and `backends()` reports it: a fallback is never silent.
 */
export type BackendName = "js" | "cpu" | "cuda";

export interface BackendStatus {
  name: BackendName;
  loaded: boolean;
  /** Why it did not load (missing addon, no GPU, driver error...). */
  reason?: string;
  /** What it runs on, e.g. "AVX-512, 2 threads" or "NVIDIA H100, sm_90". */
  detail?: string;
  /** The ops it implements. */
  ops: string[];
}

type AnyImpl = (...args: any[]) => any;

const statuses = new Map<BackendName, BackendStatus>([["js", { name: "js", loaded: true, detail: "reference", ops: [] }]]);
const impls = new Map<string, Map<BackendName, AnyImpl>>();

/** Order tried when the caller names no backend, for host tensors. */
const HOST_ORDER: BackendName[] = ["cpu", "js"];

/** Records a backend's load result; call once per backend at load time. */
export function setBackendStatus(s: Omit<BackendStatus, "ops">): void {
  statuses.set(s.name, { ...s, ops: statuses.get(s.name)?.ops ?? [] });
}

/** Registers `impl` as backend `backend`'s implementation of `op`. */
export function registerOp<F extends AnyImpl>(backend: BackendName, op: string, impl: F): void {
  let m = impls.get(op);
  if (!m) impls.set(op, (m = new Map()));
  m.set(backend, impl);
  const st = statuses.get(backend) ?? { name: backend, loaded: true, ops: [] };
  if (!st.ops.includes(op)) st.ops.push(op);
  statuses.set(backend, st);
}

/**
 * Which backends loaded, what they run on, which ops they implement, and for those that did
 * not load, why.
 * @example
 * sl.backends()  // [{ name: "cpu", loaded: true, detail: "AVX-512, 2 threads", ops: [...] }, ...]
 */
export function backends(): BackendStatus[] {
  return [...statuses.values()].map((s) => ({ ...s, ops: [...s.ops] }));
}

function envBackend(): BackendName | undefined {
  const v = typeof process !== "undefined" ? process.env.SPARSELAB_BACKEND : undefined;
  return v === "js" || v === "cpu" || v === "cuda" ? v : undefined;
}

/**
 * Picks the implementation of `op`: the backend the caller names (an error if it lacks the op),
 * else SPARSELAB_BACKEND, else cuda for device tensors, else cpu, else js.
 */
export function resolveOp<F extends AnyImpl>(
  op: string,
  opts: { backend?: BackendName; device?: "cpu" | "cuda" } = {},
): { backend: BackendName; impl: F } {
  const m = impls.get(op);
  if (!m) throw new SparselabError(op, "no implementation registered (internal error)");
  const want = opts.backend ?? envBackend();
  if (want) {
    const impl = m.get(want);
    if (!impl) {
      const st = statuses.get(want);
      const why = st && !st.loaded ? ` (backend '${want}' did not load: ${st.reason})` : "";
      throw new SparselabError(op, `backend '${want}' does not implement ${op}${why}; available: ${[...m.keys()].join(", ")}`);
    }
    return { backend: want, impl: impl as F };
  }
  const order: BackendName[] = opts.device === "cuda" ? ["cuda"] : HOST_ORDER;
  for (const b of order) {
    const impl = m.get(b);
    if (impl) return { backend: b, impl: impl as F };
  }
  throw new SparselabError(op, `no backend implements ${op} for ${opts.device ?? "cpu"} tensors`);
}

/** True when `backend` implements `op`. */
export function hasOp(backend: BackendName, op: string): boolean {
  return impls.get(op)?.has(backend) ?? false;
}
