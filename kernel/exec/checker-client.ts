/**
 * The main thread's handle on the type checker, which runs on its own thread: loading
 * TypeScript and the lib files takes a second or more, and with the checker off the main thread
 * the kernel answers kernel_info (and heartbeats, interrupts, widget messages) while it warms
 * up. This module imports only types from the checker, so the main thread never loads TypeScript.
 */
import { Worker } from "node:worker_threads";
import type { CheckerOptions, CheckResult, CompleteResult, InspectResult } from "./checker.js";
import type { CheckerRequest } from "./checker-worker.js";

/** The main thread's handle on the checker thread; every call is a promise. */
export class CheckerClient {
  private readonly worker: Worker;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: any) => void; reject: (e: Error) => void }>();

  constructor(options: CheckerOptions) {
    // Every checked cell builds a new Program whose garbage V8 would otherwise let pile up for a
    // long time; an old-generation cap makes it collect instead of growing the kernel's RSS.
    this.worker = new Worker(new URL("./checker-worker.js", import.meta.url), {
      workerData: { sparselabChecker: true, options },
      resourceLimits: { maxOldGenerationSizeMb: Number(process.env.SPARSELAB_CHECKER_HEAP_MB ?? 1024), maxYoungGenerationSizeMb: 48 },
    });
    this.worker.unref();
    this.worker.on("message", (m: { id: number; result?: unknown; error?: string }) => {
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (m.error !== undefined) p.reject(new Error(`type checker failed: ${m.error}`));
      else p.resolve(m.result);
    });
    this.worker.on("error", (e) => {
      for (const p of this.pending.values()) p.reject(e);
      this.pending.clear();
    });
  }

  private call<T>(req: Record<string, unknown> & { op: CheckerRequest["op"] }): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ ...req, id });
    });
  }

  check(code: string): Promise<CheckResult> { return this.call({ op: "check", code }); }
  complete(code: string, cursor: number): Promise<CompleteResult> { return this.call({ op: "complete", code, cursor }); }
  inspect(code: string, cursor: number): Promise<InspectResult> { return this.call({ op: "inspect", code, cursor }); }
  isComplete(code: string): Promise<{ status: string; indent?: string }> { return this.call({ op: "isComplete", code }); }
  reset(): Promise<void> { return this.call({ op: "reset" }); }
  /** Loads the lib files now, so the first cell does not wait for them. */
  warm(): Promise<void> { return this.call({ op: "warm" }); }
  terminate(): Promise<number> { return this.worker.terminate(); }
}
