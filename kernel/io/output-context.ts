/**
 * Where output goes. Every request the kernel serves (an execute_request, a comm_msg) runs
 * inside an OutputContext held in AsyncLocalStorage, so console.log, display() and errors in
 * async callbacks started by that request reach the front-end with the right parent_header.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import type { Message } from "../protocol/message.js";

/** Sends one iopub message with `parent` as its parent_header. */
export type Publish = (msgType: string, content: unknown, parent: Message | undefined, opts?: { buffers?: Uint8Array[]; metadata?: Record<string, unknown> }) => void;

/** Characters of stream output one request may print before the rest is dropped. */
export const MAX_STREAM_CHARS = Number(process.env.SPARSELAB_MAX_OUTPUT ?? 1_000_000);

export class OutputContext {
  private streamed = 0;
  private truncated = false;
  private pendingName: "stdout" | "stderr" | undefined;
  private pendingText = "";
  private flushScheduled = false;
  /** Displays whose bundles are still being computed (async Jupyter.display methods). */
  readonly pending = new Set<Promise<unknown>>();

  constructor(readonly parent: Message | undefined, private readonly publishRaw: Publish, readonly silent = false) {}

  get msgId(): string {
    return this.parent?.header.msg_id ?? "";
  }

  /** Stream text; consecutive writes to one stream are coalesced into one message per tick. */
  stream(name: "stdout" | "stderr", text: string): void {
    if (this.silent || text.length === 0) return;
    if (this.truncated) return;
    if (this.streamed + text.length > MAX_STREAM_CHARS) {
      text = text.slice(0, Math.max(0, MAX_STREAM_CHARS - this.streamed));
      this.truncated = true;
      text += `\n[sparselab: output truncated after ${MAX_STREAM_CHARS} characters; set SPARSELAB_MAX_OUTPUT to raise the limit]\n`;
    }
    this.streamed += text.length;
    if (this.pendingName && this.pendingName !== name) this.flush();
    this.pendingName = name;
    this.pendingText += text;
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => this.flush());
    }
  }

  /** Sends coalesced stream text now (before any other output, to keep order). */
  flush(): void {
    this.flushScheduled = false;
    if (!this.pendingName || this.pendingText.length === 0) return;
    const text = this.pendingText;
    const name = this.pendingName;
    this.pendingText = "";
    this.pendingName = undefined;
    this.publishRaw("stream", { name, text }, this.parent);
  }

  publish(msgType: string, content: unknown, opts?: { buffers?: Uint8Array[]; metadata?: Record<string, unknown> }): void {
    this.flush();
    if (this.silent && msgType !== "comm_open" && msgType !== "comm_msg" && msgType !== "comm_close") return;
    this.publishRaw(msgType, content, this.parent, opts);
  }

  /** Waits for async displays started in this context. */
  async settle(): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
    this.flush();
  }
}

export const outputStore = new AsyncLocalStorage<OutputContext>();

let lastContext: OutputContext | undefined;

/** The context of the running request, else the most recent one (late callbacks, timers). */
export function currentContext(): OutputContext | undefined {
  return outputStore.getStore() ?? lastContext;
}

/** Runs fn with ctx as the output context. */
export function runInContext<T>(ctx: OutputContext, fn: () => T): T {
  lastContext = ctx;
  return outputStore.run(ctx, fn);
}

/** The original writes, for the kernel's own log lines (never routed to a cell). */
export const rawStdoutWrite = process.stdout.write.bind(process.stdout);
export const rawStderrWrite = process.stderr.write.bind(process.stderr);

/** The kernel's own diagnostics: stderr of the kernel process (Jupyter's server log). */
export function kernelLog(...parts: unknown[]): void {
  rawStderrWrite(`[sparselab kernel] ${parts.map(String).join(" ")}\n`);
}

/**
 * Routes process.stdout/stderr writes (console.log included) made inside a request to stream
 * messages; writes outside any request go to the real streams.
 */
export function captureProcessStreams(): void {
  const wrap = (name: "stdout" | "stderr", raw: typeof rawStdoutWrite) =>
    function write(this: unknown, chunk: any, encoding?: any, cb?: any): boolean {
      const ctx = outputStore.getStore();
      if (!ctx) return raw(chunk, encoding, cb);
      const text = typeof chunk === "string" ? chunk : Buffer.from(chunk).toString(typeof encoding === "string" ? (encoding as BufferEncoding) : "utf8");
      ctx.stream(name, text);
      const done = typeof encoding === "function" ? encoding : cb;
      if (typeof done === "function") queueMicrotask(() => done());
      return true;
    };
  process.stdout.write = wrap("stdout", rawStdoutWrite) as typeof process.stdout.write;
  process.stderr.write = wrap("stderr", rawStderrWrite) as typeof process.stderr.write;
}
