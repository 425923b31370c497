/**
 * The checker thread's entry: runs the Checker (see checker-client.ts for why a thread).
 */
import { parentPort, workerData } from "node:worker_threads";
import { Checker, type CheckerOptions } from "./checker.js";

/** Requests from CheckerClient (checker-client.ts). */
export type CheckerRequest =
  | { id: number; op: "check"; code: string }
  | { id: number; op: "complete"; code: string; cursor: number }
  | { id: number; op: "inspect"; code: string; cursor: number }
  | { id: number; op: "isComplete"; code: string }
  | { id: number; op: "reset" }
  | { id: number; op: "warm" };

if (parentPort && workerData?.sparselabChecker) {
  const checker = new Checker(workerData.options as CheckerOptions);
  const port = parentPort;
  port.on("message", (r: CheckerRequest) => {
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

