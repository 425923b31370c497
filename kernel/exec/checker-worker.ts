/**
 * Runs the Checker on its own thread: loading TypeScript and the lib files takes a second or
 * more, and with the checker off the main thread the kernel answers kernel_info (and
 * heartbeats, interrupts, widget messages) while it warms up.
 */
import { parentPort, workerData, Worker } from "node:worker_threads";
import { Checker, type CheckerOptions, type CheckResult, type CompleteResult, type InspectResult } from "./checker.js";

type Request =
  | { id: number; op: "check"; code: string }
  | { id: number; op: "complete"; code: string; cursor: number }
  | { id: number; op: "inspect"; code: string; cursor: number }
  | { id: number; op: "isComplete"; code: string }
  | { id: number; op: "reset" }
  | { id: number; op: "warm" };

if (parentPort && workerData?.sparselabChecker) {
  const checker = new Checker(workerData.options as CheckerOptions);
  const port = parentPort;
  port.on("message", (r: Request) => {
    try {
      let result: unknown;
      switch (r.op) {
        case "check": result = checker.check(r.code); break;
        case "complete": result = checker.complete(r.code, r.cursor); break;
        case "inspect": result = checker.inspect(r.code, r.cursor); break;
        case "isComplete": result = checker.isComplete(r.code); break;
        case "reset": checker.reset(); break;
        case "warm": checker.complete("sl.", 3); break;
      }
      port.postMessage({ id: r.id, result });
    } catch (e) {
      port.postMessage({ id: r.id, error: String((e as Error)?.stack ?? e) });
    }
  });
}

/** The main thread's handle on the checker thread; every call is a promise. */
export class CheckerClient {
  private readonly worker: Worker;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: any) => void; reject: (e: Error) => void }>();

  constructor(options: CheckerOptions) {
    // Every checked cell builds a new Program whose garbage V8 would otherwise let pile up for a
    // long time; an old-generation cap makes it collect instead of growing the kernel's RSS.
    this.worker = new Worker(new URL(import.meta.url), {
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

  private call<T>(req: Record<string, unknown> & { op: Request["op"] }): Promise<T> {
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
