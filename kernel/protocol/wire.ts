/**
 * Wire framing and signing (Jupyter messaging, "The Wire Protocol"):
 *   [identities..., "<IDS|MSG>", signature, header, parent_header, metadata, content, buffers...]
 * The HMAC-SHA256 signature covers the four JSON frames only, never the buffers.
 */
import { createHmac, timingSafeEqual } from "node:crypto";
import type { Message } from "./message.js";

export const DELIMITER = Buffer.from("<IDS|MSG>");

/** Signs and verifies the four JSON frames with the connection file's key. */
export class Signer {
  private readonly key: Buffer;
  constructor(key: string, readonly scheme = "hmac-sha256") {
    if (key && scheme !== "hmac-sha256") throw new Error(`unsupported signature_scheme ${scheme}; expected hmac-sha256`);
    this.key = Buffer.from(key, "utf8");
  }

  /** Hex digest over the frames; empty when the key is empty (the spec's "no signing"). */
  sign(frames: readonly (Buffer | string)[]): string {
    if (this.key.length === 0) return "";
    const h = createHmac("sha256", this.key);
    for (const f of frames) h.update(f);
    return h.digest("hex");
  }

  /** Constant-time check so timing does not leak how many leading characters matched. */
  verify(signature: Buffer, frames: readonly Buffer[]): boolean {
    if (this.key.length === 0) return true;
    const expected = Buffer.from(this.sign(frames), "ascii");
    if (signature.length !== expected.length) return false;
    return timingSafeEqual(signature, expected);
  }
}

/** Why an incoming frame list was rejected. */
export class WireError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "WireError";
  }
}

/** Serialises a message to frames, identities first. */
export function encode(msg: Message, signer: Signer): (Buffer | Uint8Array)[] {
  const json = [
    Buffer.from(JSON.stringify(msg.header)),
    Buffer.from(JSON.stringify(msg.parent_header ?? {})),
    Buffer.from(JSON.stringify(msg.metadata ?? {})),
    Buffer.from(JSON.stringify(msg.content ?? {})),
  ];
  const sig = Buffer.from(signer.sign(json));
  return [...(msg.identities ?? []), DELIMITER, sig, ...json, ...(msg.buffers ?? [])];
}

function parseObject(frame: Buffer, name: string): any {
  let v: unknown;
  try {
    v = JSON.parse(frame.toString("utf8"));
  } catch (e) {
    throw new WireError(`${name} frame is not valid JSON`);
  }
  if (typeof v !== "object" || v === null || Array.isArray(v)) throw new WireError(`${name} frame is not a JSON object`);
  return v;
}

/**
 * Parses and verifies frames. Throws WireError for anything malformed or mis-signed, so the
 * caller can log and drop it; never returns a half-valid message.
 */
export function decode(frames: readonly Buffer[], signer: Signer): Message {
  const d = frames.findIndex((f) => f.equals(DELIMITER));
  if (d < 0) throw new WireError("no <IDS|MSG> delimiter");
  if (frames.length < d + 6) throw new WireError(`truncated message: ${frames.length - d - 1} frames after the delimiter, expected at least 5`);
  const sig = frames[d + 1];
  const json = frames.slice(d + 2, d + 6);
  if (!signer.verify(sig, json)) throw new WireError("bad signature");
  const header = parseObject(json[0], "header");
  if (typeof header.msg_type !== "string" || typeof header.msg_id !== "string") throw new WireError("header lacks msg_type or msg_id");
  if (typeof header.session !== "string") header.session = "";
  return {
    identities: frames.slice(0, d),
    header,
    parent_header: parseObject(json[1], "parent_header"),
    metadata: parseObject(json[2], "metadata"),
    content: parseObject(json[3], "content"),
    buffers: frames.slice(d + 6).map((b) => new Uint8Array(b.buffer, b.byteOffset, b.byteLength)),
  };
}
