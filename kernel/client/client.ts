/**
 * A small Jupyter client over ZeroMQ, driving a kernel the way a front-end does: used by
 * `sparselab run`, the protocol tests and the latency benchmark.
 * @example
 * const k = await launchKernel();
 * const r = await k.client.execute("1 + 1");
 * console.log(r.result?.["text/plain"]); // "2"
 * await k.shutdown();
 */
import * as zmq from "zeromq";
import { randomUUID } from "node:crypto";
import { endpoint, type ConnectionInfo } from "../protocol/connection.js";
import { decode, encode, Signer } from "../protocol/wire.js";
import { makeMessage, type Message } from "../protocol/message.js";
import { SendQueue } from "../protocol/send-queue.js";

export type ClientChannel = "shell" | "control" | "stdin";

/** What one execute_request produced. */
export interface ExecuteResult {
  reply: Message;
  /** iopub messages with this request as parent, between busy and idle (status excluded). */
  iopub: Message[];
  /** execute_result data, if any. */
  result?: Record<string, any>;
  /** Concatenated stream text by stream name. */
  stdout: string;
  stderr: string;
  error?: { ename: string; evalue: string; traceback: string[] };
}

interface Waiter {
  replies: Message[];
  iopub: Message[];
  idle: boolean;
  done: () => void;
  needReply: boolean;
}

export class KernelClient {
  readonly session = randomUUID();
  readonly signer: Signer;
  private readonly socks: Record<ClientChannel, zmq.Dealer>;
  private readonly outs: Record<ClientChannel, SendQueue>;
  private readonly iopubSock = new zmq.Subscriber({ linger: 0 });
  private readonly hb = new zmq.Request({ linger: 0, receiveTimeout: 2000, sendTimeout: 2000 });
  private readonly waiters = new Map<string, Waiter>();
  /** Every iopub message, for listeners (widgets tests watch comm messages). */
  private readonly iopubListeners = new Set<(m: Message) => void>();
  /** Answers input_request on stdin; default replies with "". */
  onInput: (prompt: string, password: boolean) => string | Promise<string> = () => "";
  private closed = false;

  constructor(readonly info: ConnectionInfo) {
    this.signer = new Signer(info.key, info.signature_scheme);
    const mk = () => new zmq.Dealer({ linger: 0, routingId: this.session });
    this.socks = { shell: mk(), control: mk(), stdin: mk() };
    const log = (e: unknown) => {
      if (!this.closed) process.stderr.write(`[sparselab client] send failed: ${e}\n`);
    };
    this.outs = { shell: new SendQueue(this.socks.shell, log), control: new SendQueue(this.socks.control, log), stdin: new SendQueue(this.socks.stdin, log) };
  }

  /** Connects all channels (does not wait for the kernel; see waitReady). */
  connect(): void {
    for (const ch of ["shell", "control", "stdin"] as const) this.socks[ch].connect(endpoint(this.info, ch));
    this.iopubSock.connect(endpoint(this.info, "iopub"));
    this.iopubSock.subscribe();
    this.hb.connect(endpoint(this.info, "hb"));
    for (const ch of ["shell", "control", "stdin"] as const) void this.readLoop(ch);
    void this.readIopub();
  }

  private async readLoop(ch: ClientChannel): Promise<void> {
    try {
      for await (const frames of this.socks[ch]) {
        let msg: Message;
        try {
          msg = decode(frames, this.signer);
        } catch {
          continue;
        }
        if (ch === "stdin" && msg.header.msg_type === "input_request") {
          const c = msg.content as { prompt: string; password: boolean };
          const value = await this.onInput(c.prompt, c.password);
          this.sendRaw("stdin", makeMessage("input_reply", { value }, this.session, msg, { username: "client" }));
          continue;
        }
        const w = this.waiters.get(String(msg.parent_header.msg_id));
        if (w) {
          w.replies.push(msg);
          this.check(String(msg.parent_header.msg_id), w);
        }
      }
    } catch {
      /* closed */
    }
  }

  private async readIopub(): Promise<void> {
    try {
      for await (const frames of this.iopubSock) {
        let msg: Message;
        try {
          msg = decode(frames, this.signer);
        } catch {
          continue;
        }
        for (const l of this.iopubListeners) l(msg);
        const id = String(msg.parent_header.msg_id);
        const w = this.waiters.get(id);
        if (!w) continue;
        if (msg.header.msg_type === "status") {
          if ((msg.content as { execution_state: string }).execution_state === "idle") w.idle = true;
        } else w.iopub.push(msg);
        this.check(id, w);
      }
    } catch {
      /* closed */
    }
  }

  private check(id: string, w: Waiter): void {
    if (w.idle && (!w.needReply || w.replies.length > 0)) {
      this.waiters.delete(id);
      w.done();
    }
  }

  /** Watches every iopub message; returns an unsubscribe function. */
  onIopub(fn: (m: Message) => void): () => void {
    this.iopubListeners.add(fn);
    return () => this.iopubListeners.delete(fn);
  }

  /** Sends a prepared message (tests use this to send odd ones). */
  sendRaw(ch: ClientChannel, msg: Message): void {
    void this.outs[ch].send(encode(msg, this.signer));
  }

  /** Sends raw frames (the fuzzer's malformed messages). */
  sendFrames(ch: ClientChannel, frames: (Buffer | Uint8Array | string)[]): Promise<void> {
    return this.outs[ch].send(frames);
  }

  /**
   * Sends a request and resolves with its reply and iopub messages once the kernel is idle
   * for it. `needReply` false: for comm messages (no reply, only busy/idle).
   */
  request(ch: ClientChannel, msgType: string, content: unknown, opts: { buffers?: Uint8Array[]; metadata?: Record<string, unknown>; needReply?: boolean; timeoutMs?: number } = {}): Promise<{ reply?: Message; iopub: Message[]; msg: Message }> {
    const msg = makeMessage(msgType, content, this.session, undefined, { buffers: opts.buffers, metadata: opts.metadata, username: "client" });
    const needReply = opts.needReply ?? true;
    return new Promise((resolve, reject) => {
      const timeout = opts.timeoutMs ?? 60_000;
      const t = setTimeout(() => {
        this.waiters.delete(msg.header.msg_id);
        reject(new Error(`${msgType}: no ${needReply ? "reply/" : ""}idle within ${timeout} ms`));
      }, timeout);
      const w: Waiter = {
        replies: [],
        iopub: [],
        idle: false,
        needReply,
        done: () => {
          clearTimeout(t);
          resolve({ reply: w.replies[0], iopub: w.iopub, msg });
        },
      };
      this.waiters.set(msg.header.msg_id, w);
      this.sendRaw(ch, msg);
    });
  }

  /** Runs code and gathers what it produced. */
  async execute(code: string, opts: { silent?: boolean; storeHistory?: boolean; allowStdin?: boolean; stopOnError?: boolean; timeoutMs?: number } = {}): Promise<ExecuteResult> {
    const r = await this.request(
      "shell",
      "execute_request",
      { code, silent: opts.silent ?? false, store_history: opts.storeHistory ?? true, user_expressions: {}, allow_stdin: opts.allowStdin ?? true, stop_on_error: opts.stopOnError ?? true },
      { timeoutMs: opts.timeoutMs },
    );
    const out: ExecuteResult = { reply: r.reply!, iopub: r.iopub, stdout: "", stderr: "" };
    for (const m of r.iopub) {
      const c = m.content as any;
      if (m.header.msg_type === "execute_result") out.result = c.data;
      else if (m.header.msg_type === "stream") out[c.name === "stderr" ? "stderr" : "stdout"] += c.text;
      else if (m.header.msg_type === "error") out.error = c;
    }
    return out;
  }

  /** Sends a heartbeat ping; resolves with the round trip in ms (rejects after 2 s). */
  async ping(): Promise<number> {
    const t = performance.now();
    await this.hb.send("ping");
    await this.hb.receive();
    return performance.now() - t;
  }

  /** Retries kernel_info until answered (iopub subscriptions take a moment to join). */
  async waitReady(timeoutMs = 30_000): Promise<Message> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      try {
        const r = await this.request("shell", "kernel_info_request", {}, { timeoutMs: 250 });
        return r.reply!;
      } catch (e) {
        if (Date.now() > until) throw new Error(`kernel did not answer kernel_info within ${timeoutMs} ms`);
      }
    }
  }

  close(): void {
    this.closed = true;
    for (const s of Object.values(this.socks)) s.close();
    this.iopubSock.close();
    this.hb.close();
  }
}
