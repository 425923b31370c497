import { randomUUID } from "node:crypto";

/** Jupyter messaging protocol version this kernel speaks. */
export const PROTOCOL_VERSION = "5.3";

/** A message header (Jupyter messaging 5.3). */
export interface Header {
  msg_id: string;
  session: string;
  username: string;
  date: string;
  msg_type: string;
  version: string;
  [k: string]: unknown;
}

/** A decoded Jupyter message; `buffers` are the binary frames after the four JSON frames. */
export interface Message<C = any> {
  header: Header;
  parent_header: Partial<Header>;
  metadata: Record<string, unknown>;
  content: C;
  buffers: Uint8Array[];
  /** ZeroMQ routing identities (ROUTER sockets), echoed back on replies. */
  identities?: Buffer[];
}

/** Builds a fresh header for a message of `msgType` in `session`. */
export function makeHeader(msgType: string, session: string, username = "kernel"): Header {
  return {
    msg_id: randomUUID(),
    session,
    username,
    date: new Date().toISOString(),
    msg_type: msgType,
    version: PROTOCOL_VERSION,
  };
}

/** Builds a message with a fresh header; `parent` is the request it answers (or none). */
export function makeMessage<C>(
  msgType: string,
  content: C,
  session: string,
  parent?: Message | Partial<Header>,
  opts: { metadata?: Record<string, unknown>; buffers?: Uint8Array[]; identities?: Buffer[]; username?: string } = {},
): Message<C> {
  const parentHeader = parent ? ("header" in parent && typeof parent.header === "object" ? (parent as Message).header : (parent as Partial<Header>)) : {};
  return {
    header: makeHeader(msgType, session, opts.username),
    parent_header: parentHeader,
    metadata: opts.metadata ?? {},
    content,
    buffers: opts.buffers ?? [],
    identities: opts.identities,
  };
}
