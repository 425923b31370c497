/**
 * Binary values in widget state (widgets protocol 2.1 `buffer_paths`): on the way out every
 * ArrayBuffer / typed array / DataView is lifted out of the JSON into a separate frame and its
 * location recorded as a path; on the way in the frames are put back at their paths.
 */

/** A path into a state object: keys and array indices, e.g. `["data", 0]`. */
export type BufferPath = (string | number)[];

export function isBinary(x: unknown): x is ArrayBuffer | ArrayBufferView {
  return x instanceof ArrayBuffer || ArrayBuffer.isView(x);
}

/** The bytes of a binary value, without copying. */
export function toBytes(x: ArrayBuffer | ArrayBufferView): Uint8Array {
  if (x instanceof Uint8Array) return x;
  if (x instanceof ArrayBuffer) return new Uint8Array(x);
  return new Uint8Array(x.buffer, x.byteOffset, x.byteLength);
}

/**
 * Splits `state` into JSON-able state, the paths of its binary values and their bytes.
 * Binary values inside arrays leave a `null` placeholder; inside objects the key is dropped
 * (the rule in ipywidgets' messages.md). The input is not modified.
 */
export function removeBuffers(state: Record<string, unknown>): {
  state: Record<string, unknown>;
  buffer_paths: BufferPath[];
  buffers: Uint8Array[];
} {
  const buffer_paths: BufferPath[] = [];
  const buffers: Uint8Array[] = [];
  const walk = (value: unknown, path: BufferPath): unknown => {
    if (Array.isArray(value)) {
      let out: unknown[] | undefined;
      value.forEach((v, i) => {
        if (isBinary(v)) {
          out ??= value.slice();
          out[i] = null;
          buffer_paths.push([...path, i]);
          buffers.push(toBytes(v));
        } else if (v !== null && typeof v === "object") {
          const w = walk(v, [...path, i]);
          if (w !== v) (out ??= value.slice())[i] = w;
        }
      });
      return out ?? value;
    }
    if (value !== null && typeof value === "object" && !isBinary(value)) {
      let out: Record<string, unknown> | undefined;
      for (const [k, v] of Object.entries(value)) {
        if (isBinary(v)) {
          out ??= { ...(value as Record<string, unknown>) };
          delete out[k];
          buffer_paths.push([...path, k]);
          buffers.push(toBytes(v));
        } else if (v !== null && typeof v === "object") {
          const w = walk(v, [...path, k]);
          if (w !== v) (out ??= { ...(value as Record<string, unknown>) })[k] = w;
        }
      }
      return out ?? value;
    }
    return value;
  };
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(state)) {
    if (isBinary(v)) {
      buffer_paths.push([k]);
      buffers.push(toBytes(v));
    } else {
      out[k] = walk(v, [k]);
    }
  }
  return { state: out, buffer_paths, buffers };
}

/**
 * Puts `buffers` back into `state` at `paths` (mutating `state`, which the caller owns).
 * Missing intermediate containers are created, so a malformed path cannot throw.
 */
export function putBuffers(
  state: Record<string, unknown>,
  paths: unknown,
  buffers: readonly Uint8Array[],
): Record<string, unknown> {
  if (!Array.isArray(paths)) return state;
  const n = Math.min(paths.length, buffers.length);
  for (let i = 0; i < n; i++) {
    const path = paths[i];
    if (!Array.isArray(path) || path.length === 0) continue;
    let obj: any = state;
    for (let j = 0; j < path.length - 1; j++) {
      const key = path[j];
      if (obj[key] === null || typeof obj[key] !== "object") obj[key] = typeof path[j + 1] === "number" ? [] : {};
      obj = obj[key];
    }
    obj[path[path.length - 1]] = buffers[i];
  }
  return state;
}

/** Structural equality for state values: JSON-like data plus binary values compared by bytes. */
export function sameValue(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (isBinary(a) || isBinary(b)) {
    if (!isBinary(a) || !isBinary(b)) return false;
    const x = toBytes(a);
    const y = toBytes(b);
    if (x.length !== y.length) return false;
    for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
    return true;
  }
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    return a.every((v, i) => sameValue(v, b[i]));
  }
  if (a !== null && b !== null && typeof a === "object" && typeof b === "object") {
    const ka = Object.keys(a);
    const kb = Object.keys(b);
    if (ka.length !== kb.length) return false;
    return ka.every((k) => Object.prototype.hasOwnProperty.call(b, k) && sameValue((a as any)[k], (b as any)[k]));
  }
  return false;
}

/** Base64 of bytes, for the notebook's widget-state metadata. */
export function toBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64");
}
