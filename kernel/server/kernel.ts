/**
 * The kernel: sockets (shell, stdin, iopub here; control and heartbeat on their own thread),
 * a flat dispatch on msg_type, and the execute loop. Shell requests run one at a time, in
 * order; each is bracketed by status busy/idle on iopub with the request as parent.
 */
import * as zmq from "zeromq";
import { Worker } from "node:worker_threads";
import { inspect } from "node:util";
import { endpoint, type ConnectionInfo } from "../protocol/connection.js";
import { decode, encode, Signer, WireError } from "../protocol/wire.js";
import { makeMessage, type Message } from "../protocol/message.js";
import { SendQueue } from "../protocol/send-queue.js";
import type { ControlToMain, MainToControl } from "../protocol/control-worker.js";
import { CheckerClient } from "../exec/checker-client.js";
import { CellRuntime, InterruptedError } from "../exec/runtime.js";
import { runtimeErrorContent, typeErrorContent, type ErrorContent } from "../exec/traceback.js";
import { captureProcessStreams, currentContext, kernelLog, OutputContext, runInContext, type Publish } from "../io/output-context.js";
import { clearOutput, display, formatState, showIn } from "../display/api.js";
import { formatValue, inspectPlain } from "../display/format.js";
import { History } from "./history.js";
import { Comms } from "./comms.js";
import { kernelInfo } from "./kernel-info.js";
import { packageRoot } from "../paths.js";
import { setKernelComms } from "../../widgets/comm.js";
import { setAmbientSignal } from "../../lib/cancel.js";
import { randomUUID } from "node:crypto";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

type Reply = (msgType: string, content: unknown, opts?: { metadata?: Record<string, unknown>; buffers?: Uint8Array[] }) => void;

interface Queued {
  msg: Message;
  reply: Reply;
}

export interface KernelOptions {
  info: ConnectionInfo;
  /** The notebook's folder: imports resolve and the checker's virtual files live here. */
  cwd?: string;
  /** Called after shutdown_request, once replies are flushed (default: process.exit). */
  onShutdown?: (restart: boolean) => void;
}

export class Kernel {
  readonly session = randomUUID();
  private readonly signer: Signer;
  private readonly shell = new zmq.Router({ linger: 0 });
  private readonly stdin = new zmq.Router({ linger: 0 });
  private readonly iopub = new zmq.Publisher({ linger: 0 });
  private shellOut!: SendQueue;
  private stdinOut!: SendQueue;
  private iopubOut!: SendQueue;
  private control!: Worker;
  private readonly checker: CheckerClient;
  private readonly runtime: CellRuntime;
  private readonly history = new History();
  private readonly comms = new Comms();
  private executionCount = 0;
  private readonly queue: Queued[] = [];
  private processing = false;
  private abort: AbortController | undefined;
  private readonly pendingInput = new Map<string, { resolve: (v: string) => void; reject: (e: Error) => void }>();
  private closed = false;
  /** Count of dropped messages (bad signature, malformed), for logs and tests. */
  dropped = 0;

  constructor(private readonly opts: KernelOptions) {
    this.signer = new Signer(opts.info.key, opts.info.signature_scheme);
    const cwd = opts.cwd ?? process.cwd();
    this.checker = new CheckerClient({ cwd, packageRoot });
    this.runtime = new CellRuntime(cwd);
  }

  private readonly publish: Publish = (msgType, content, parent, opts = {}) => {
    if (this.closed) return;
    const msg = makeMessage(msgType, content, this.session, parent, { ...opts, identities: [Buffer.from(`kernel.${this.session}.${msgType}`)] });
    void this.iopubOut.send(encode(msg, this.signer));
  };

  private status(state: "busy" | "idle" | "starting", parent?: Message): void {
    this.publish("status", { execution_state: state }, parent);
  }

  /** Binds every socket on the connection file's address and starts serving. */
  async start(): Promise<void> {
    const { info } = this.opts;
    const log = (e: unknown) => kernelLog("send failed:", e);
    this.shellOut = new SendQueue(this.shell, log);
    this.stdinOut = new SendQueue(this.stdin, log);
    this.iopubOut = new SendQueue(this.iopub, log);
    this.control = new Worker(new URL("../protocol/control-worker.js", import.meta.url), { workerData: { info, session: this.session } });
    const controlReady = new Promise<void>((resolve, reject) => {
      this.control.on("message", (m: ControlToMain) => {
        if (m.kind === "ready") resolve();
        else if (m.kind === "error") (kernelLog("control thread:", m.message), reject(new Error(m.message)));
        else if (m.kind === "frames") this.onControlFrames(m.frames.map((f) => Buffer.from(f.buffer, f.byteOffset, f.byteLength)));
      });
      this.control.on("error", reject);
    });
    await Promise.all([
      this.shell.bind(endpoint(info, "shell")),
      this.stdin.bind(endpoint(info, "stdin")),
      this.iopub.bind(endpoint(info, "iopub")),
      controlReady,
    ]);
    this.installGlobals();
    this.status("starting");
    void this.receiveLoop(this.shell, (msg) => this.enqueue(msg));
    void this.receiveLoop(this.stdin, (msg) => this.onStdin(msg));
    void this.checker.warm().catch((e) => kernelLog("checker warm-up failed:", e));
    setTimeout(() => void this.loadLibrary(), 100).unref();
  }

  private libraryLoad: Promise<void> | undefined;

  /**
   * Loads the library as `sl` (and widgets as `widgets`/`interact` when that module exists).
   * It takes about half a second, so it starts right after the first kernel_info_reply (or
   * 100 ms after start-up): the handshake is answered first, and cells wait for it.
   */
  private loadLibrary(): Promise<void> {
    const g = globalThis as Record<string, unknown>;
    this.libraryLoad ??= (async () => {
      try {
        g.sl = await import(pathToFileURL(join(packageRoot, "dist/lib/index.js")).href);
        // Native backends load asynchronously; wait so sl.backends() in the first cell is final.
        await (g.sl as { ready?: () => Promise<void> }).ready?.();
      } catch (e) {
        kernelLog("could not load sparselab:", e);
      }
      const widgetsPath = join(packageRoot, "dist/widgets/index.js");
      if (existsSync(widgetsPath)) {
        try {
          const w = await import(pathToFileURL(widgetsPath).href);
          g.widgets = w;
          if (typeof w.interact === "function") g.interact = w.interact;
        } catch (e) {
          kernelLog("could not load sparselab/widgets:", e);
        }
      }
    })();
    return this.libraryLoad;
  }

  private installGlobals(): void {
    captureProcessStreams();
    const g = globalThis as Record<string, unknown>;
    g.display = display;
    g.clearOutput = clearOutput;
    g.input = (prompt = "", o: { password?: boolean } = {}) => this.input(prompt, !!o.password);
    setKernelComms(this.comms);
    process.on("SIGINT", () => this.interrupt());
    process.on("unhandledRejection", (reason) => this.reportAsync("Unhandled promise rejection", reason));
    process.on("uncaughtException", (err) => this.reportAsync("Uncaught exception", err));
  }

  /** Errors nobody awaited (callbacks, timers): shown in the current output, never fatal. */
  private reportAsync(what: string, reason: unknown): void {
    const ctx = currentContext();
    const content = runtimeErrorContent(reason, this.runtime);
    kernelLog(what + ":", inspect(reason, { colors: false }).slice(0, 2000));
    if (ctx) ctx.publish("error", { ...content, traceback: [`${what}:`, ...content.traceback] });
  }

  private async receiveLoop(sock: zmq.Router, handle: (msg: Message) => void): Promise<void> {
    try {
      for await (const frames of sock) {
        let msg: Message;
        try {
          msg = decode(frames, this.signer);
        } catch (e) {
          this.dropped++;
          if (this.dropped <= 20 || this.dropped % 1000 === 0) kernelLog(`dropped message #${this.dropped}: ${e instanceof WireError ? e.message : e}`);
          continue;
        }
        try {
          handle(msg);
        } catch (e) {
          kernelLog("handler failed:", e);
        }
      }
    } catch (e) {
      if (!this.closed) kernelLog("receive loop ended:", e);
    }
  }

  private replier(out: () => SendQueue | ((frames: Uint8Array[]) => void), msg: Message): Reply {
    return (msgType, content, o = {}) => {
      const r = makeMessage(msgType, content, this.session, msg, { ...o, identities: msg.identities });
      const frames = encode(r, this.signer);
      const q = out();
      if (q instanceof SendQueue) void q.send(frames);
      else q(frames);
    };
  }

  private enqueue(msg: Message): void {
    this.queue.push({ msg, reply: this.replier(() => this.shellOut, msg) });
    if (!this.processing) void this.drain();
  }

  private async drain(): Promise<void> {
    this.processing = true;
    while (this.queue.length > 0) {
      const q = this.queue.shift()!;
      await this.serve(q.msg, q.reply, "shell");
    }
    this.processing = false;
  }

  private onControlFrames(frames: Buffer[]): void {
    let msg: Message;
    try {
      msg = decode(frames, this.signer);
    } catch (e) {
      this.dropped++;
      kernelLog(`dropped control message: ${e instanceof WireError ? e.message : e}`);
      return;
    }
    const reply = this.replier(() => (f: Uint8Array[]) => this.control.postMessage({ kind: "send", frames: f } satisfies MainToControl), msg);
    void this.serve(msg, reply, "control");
  }

  /** One request: busy, handle, idle. Handlers never throw out of here. */
  private async serve(msg: Message, reply: Reply, channel: "shell" | "control"): Promise<void> {
    this.status("busy", msg);
    try {
      await this.dispatch(msg, reply, channel);
    } catch (e) {
      kernelLog(`${msg.header.msg_type} failed:`, (e as Error)?.stack ?? e);
      if (msg.header.msg_type.endsWith("_request")) reply(msg.header.msg_type.replace(/_request$/, "_reply"), { status: "error", ename: "KernelError", evalue: String((e as Error)?.message ?? e), traceback: [] });
    } finally {
      this.status("idle", msg);
    }
  }

  private async dispatch(msg: Message, reply: Reply, channel: "shell" | "control"): Promise<void> {
    const c = (msg.content ?? {}) as Record<string, any>;
    switch (msg.header.msg_type) {
      case "kernel_info_request":
        reply("kernel_info_reply", kernelInfo());
        setImmediate(() => void this.loadLibrary());
        return;
      case "execute_request":
        return this.execute(msg, reply);
      case "complete_request": {
        const code = String(c.code ?? "");
        const cursor = Number.isInteger(c.cursor_pos) ? c.cursor_pos : [...code].length;
        const r = await this.checker.complete(code, cursor);
        return reply("complete_reply", { status: "ok", matches: r.matches, cursor_start: r.cursor_start, cursor_end: r.cursor_end, metadata: { _jupyter_types_experimental: r.types } });
      }
      case "inspect_request": {
        const code = String(c.code ?? "");
        const cursor = Number.isInteger(c.cursor_pos) ? c.cursor_pos : [...code].length;
        const r = await this.checker.inspect(code, cursor);
        return reply("inspect_reply", { status: "ok", found: r.found, data: r.found ? { "text/plain": r.text } : {}, metadata: {} });
      }
      case "is_complete_request": {
        const r = await this.checker.isComplete(String(c.code ?? ""));
        return reply("is_complete_reply", r);
      }
      case "history_request":
        return reply("history_reply", { status: "ok", history: this.history.query(c) });
      case "comm_info_request": {
        const comms: Record<string, { target_name: string }> = {};
        for (const [id, target] of this.comms.list()) if (!c.target_name || c.target_name === target) comms[id] = { target_name: target };
        return reply("comm_info_reply", { status: "ok", comms });
      }
      case "comm_open":
        return this.onCommOpen(msg);
      case "comm_msg":
        return this.onCommMsg(msg);
      case "comm_close":
        return runInContext(new OutputContext(msg, this.publish), () => this.comms.frontendClose(String(c.comm_id)));
      case "interrupt_request":
        // The control thread already raised SIGINT and replied; only busy/idle remain here.
        if (channel === "shell") (this.interrupt(), reply("interrupt_reply", { status: "ok" }));
        return;
      case "shutdown_request":
        return this.shutdown(msg, reply, !!c.restart);
      default:
        if (msg.header.msg_type.endsWith("_request")) {
          kernelLog(`unsupported request ${msg.header.msg_type}`);
          reply(msg.header.msg_type.replace(/_request$/, "_reply"), { status: "error", ename: "NotImplemented", evalue: `${msg.header.msg_type} is not supported`, traceback: [] });
        }
    }
  }

  /** Interrupt: abort library ops (ambient signal) and abandon an awaiting cell. */
  interrupt(): void {
    this.control?.postMessage({ kind: "interrupted" } satisfies MainToControl);
    this.abort?.abort(new InterruptedError());
    this.runtime.interrupt();
    for (const p of this.pendingInput.values()) p.reject(new InterruptedError());
    this.pendingInput.clear();
  }

  private async execute(msg: Message, reply: Reply): Promise<void> {
    const c = msg.content as { code?: unknown; silent?: boolean; store_history?: boolean; allow_stdin?: boolean; stop_on_error?: boolean; user_expressions?: Record<string, string> };
    const code = typeof c.code === "string" ? c.code : "";
    const silent = !!c.silent;
    const storeHistory = c.store_history !== undefined ? !!c.store_history : !silent;
    if (storeHistory && !silent) this.executionCount++;
    const count = this.executionCount;
    if (storeHistory) this.history.add(count, code);
    if (!silent) this.publish("execute_input", { code, execution_count: count }, msg);
    const ctx = new OutputContext(msg, this.publish, silent);
    const abort = new AbortController();
    this.abort = abort;
    setAmbientSignal(abort.signal);
    let error: ErrorContent | undefined;
    try {
      await runInContext(ctx, async () => {
        if (code.trim() === "") return;
        const [check] = await Promise.all([this.checker.check(code), this.loadLibrary()]);
        if (!check.ok) {
          error = typeErrorContent(check.diagnostics, code, count);
          return;
        }
        try {
          // An interrupt that came while the cell was being checked cancels it before it runs.
          if (abort.signal.aborted) throw new InterruptedError();
          const value = await this.runtime.run(check, count, code);
          if (check.hasResult && value !== undefined && !silent) {
            const data = await formatValue(value, formatState);
            ctx.publish("execute_result", { execution_count: count, data, metadata: {} });
            if (storeHistory) this.history.setOutput(count, String(data["text/plain"] ?? ""));
          }
        } catch (e) {
          if (e instanceof InterruptedError) this.control.postMessage({ kind: "interrupted" } satisfies MainToControl);
          error = runtimeErrorContent(e, this.runtime);
        }
      });
      await ctx.settle();
    } finally {
      if (this.abort === abort) (this.abort = undefined), setAmbientSignal(undefined);
    }
    if (error) {
      ctx.publish("error", error);
      reply("execute_reply", { status: "error", execution_count: count, ...error });
      if (c.stop_on_error !== false) await this.abortQueued();
      return;
    }
    const userExpressions: Record<string, unknown> = {};
    for (const [k, expr] of Object.entries(c.user_expressions ?? {})) {
      try {
        userExpressions[k] = { status: "ok", data: await formatValue(this.runtime.evaluate(expr), formatState), metadata: {} };
      } catch (e) {
        userExpressions[k] = { status: "error", ...runtimeErrorContent(e, this.runtime) };
      }
    }
    reply("execute_reply", { status: "ok", execution_count: count, user_expressions: userExpressions, payload: [] });
  }

  /** stop_on_error: execute requests already queued get status "aborted" and do not run. */
  private async abortQueued(): Promise<void> {
    // Let the receive loop pull in requests the client sent before it saw this error.
    await new Promise((r) => setImmediate(r));
    const keep: Queued[] = [];
    for (const q of this.queue.splice(0)) {
      if (q.msg.header.msg_type === "execute_request") {
        this.status("busy", q.msg);
        q.reply("execute_reply", { status: "aborted", execution_count: this.executionCount });
        this.status("idle", q.msg);
      } else keep.push(q);
    }
    this.queue.push(...keep);
  }

  private onCommOpen(msg: Message): void {
    const c = msg.content as { comm_id?: string; target_name?: string; data?: unknown };
    const commId = String(c.comm_id ?? "");
    const target = String(c.target_name ?? "");
    const ctx = new OutputContext(msg, this.publish);
    runInContext(ctx, () => {
      let ok = false;
      try {
        ok = this.comms.frontendOpen(commId, target, c.data ?? {}, msg.buffers);
      } catch (e) {
        ctx.publish("error", runtimeErrorContent(e, this.runtime));
        ok = true;
      }
      // A front-end opening a target nobody serves is told so by a close (the spec's rule).
      if (!ok) ctx.publish("comm_close", { comm_id: commId, data: {} });
    });
  }

  private async onCommMsg(msg: Message): Promise<void> {
    const c = msg.content as { comm_id?: string; data?: unknown };
    const ctx = new OutputContext(msg, this.publish);
    await runInContext(ctx, async () => {
      try {
        const known = await this.comms.frontendMsg(String(c.comm_id ?? ""), c.data ?? {}, msg.buffers, msg.header.msg_id);
        if (!known) kernelLog(`comm_msg for unknown comm ${c.comm_id}`);
      } catch (e) {
        kernelLog("comm callback failed:", (e as Error)?.stack ?? e);
        ctx.publish("error", runtimeErrorContent(e, this.runtime));
      }
    });
    await ctx.settle();
  }

  /** `await input(prompt)`: input_request on stdin to the client that sent the execute. */
  private input(prompt: string, password: boolean): Promise<string> {
    const ctx = currentContext();
    const parent = ctx?.parent;
    if (!parent || parent.header.msg_type !== "execute_request") return Promise.reject(new Error("input: only available while a cell runs"));
    if (!(parent.content as { allow_stdin?: boolean }).allow_stdin) return Promise.reject(new Error("input: this front-end does not accept input (allow_stdin is false)"));
    ctx.flush();
    const req = makeMessage("input_request", { prompt: String(prompt), password }, this.session, parent, { identities: parent.identities });
    return new Promise<string>((resolve, reject) => {
      this.pendingInput.set(req.header.msg_id, { resolve, reject });
      void this.stdinOut.send(encode(req, this.signer));
    });
  }

  private onStdin(msg: Message): void {
    if (msg.header.msg_type !== "input_reply") return;
    const id = String(msg.parent_header?.msg_id ?? "");
    const p = this.pendingInput.get(id) ?? (this.pendingInput.size === 1 ? [...this.pendingInput.values()][0] : undefined);
    if (!p) return;
    for (const [k, v] of this.pendingInput) if (v === p) this.pendingInput.delete(k);
    p.resolve(String((msg.content as { value?: unknown }).value ?? ""));
  }

  private async shutdown(msg: Message, reply: Reply, restart: boolean): Promise<void> {
    reply("shutdown_reply", { status: "ok", restart });
    this.publish("shutdown_reply", { status: "ok", restart }, msg);
    this.status("idle", msg);
    await this.close();
    (this.opts.onShutdown ?? (() => process.exit(0)))(restart);
  }

  /** Flushes and closes every socket and thread. */
  async close(): Promise<void> {
    if (this.closed) return;
    await Promise.all([this.shellOut.flush(), this.iopubOut.flush(), this.stdinOut.flush()]);
    await new Promise((r) => setTimeout(r, 20));
    this.closed = true;
    this.control.postMessage({ kind: "close" } satisfies MainToControl);
    await new Promise((r) => setTimeout(r, 20));
    await this.control.terminate();
    await this.checker.terminate();
    this.shell.close();
    this.stdin.close();
    this.iopub.close();
  }
}
