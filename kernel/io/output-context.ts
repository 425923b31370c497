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

/** How long a display still being formatted holds back the outputs made after it. */
const ORDER_WAIT_MS = 2000;

export class OutputContext {
  private streamed = 0;
  private truncated = false;
  private pendingName: "stdout" | "stderr" | undefined;
  private pendingText = "";
  private flushScheduled = false;
  /** Displays whose bundles are still being computed (async Jupyter.display methods). */
  readonly pending = new Set<Promise<unknown>>();
  /**
   * Outputs waiting behind a display still being formatted, in the order the code made them:
   * `display(fig); console.log("done")` must show the figure first, as a notebook reader expects.
   */
  private readonly queue: { ready: boolean; send?: () => void }[] = [];

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
    this.inOrder(() => this.publishRaw("stream", { name, text }, this.parent));
  }

  publish(msgType: string, content: unknown, opts?: { buffers?: Uint8Array[]; metadata?: Record<string, unknown> }): void {
    this.flush();
    if (this.silent && msgType !== "comm_open" && msgType !== "comm_msg" && msgType !== "comm_close") return;
    // Opening a model is never output and an async display may open one while it is formatted
    // (its view must find the model): it does not wait. Updates keep their place, since an
    // Output widget's msg_id update says where the outputs around it belong.
    if (msgType === "comm_open") return this.publishRaw(msgType, content, this.parent, opts);
    this.inOrder(() => this.publishRaw(msgType, content, this.parent, opts));
  }

  /**
   * Holds a place in the output order for a display whose bundle is not ready yet; call the
   * returned function with the message when it is. A display slower than ORDER_WAIT_MS stops
   * holding back what follows it (it then appears where it lands).
   */
  reserve(): (msgType: string, content: unknown) => void {
    this.flush();
    const slot: { ready: boolean; send?: () => void } = { ready: false };
    this.queue.push(slot);
    const timer = setTimeout(() => {
      const i = this.queue.indexOf(slot);
      if (i >= 0) this.queue.splice(i, 1), this.drain();
    }, ORDER_WAIT_MS);
    timer.unref?.();
    return (msgType, content) => {
      clearTimeout(timer);
      if (this.silent) return;
      if (!this.queue.includes(slot)) return this.publish(msgType, content);
      // Sent raw when its turn comes: text printed after the display is already queued behind it.
      slot.send = () => this.publishRaw(msgType, content, this.parent);
      slot.ready = true;
      this.drain();
    };
  }

  private inOrder(send: () => void): void {
    if (this.queue.length === 0) return send();
    this.queue.push({ ready: true, send });
  }

  private drain(): void {
    while (this.queue.length && this.queue[0].ready) this.queue.shift()!.send!();
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
