/**
 * Control and heartbeat live on their own thread: a cell stuck in a busy loop blocks the main
 * thread's event loop, and then neither an interrupt_request nor a heartbeat ping could be
 * read there. This thread answers pings, answers interrupt_request at once and raises SIGINT
 * in the process (which breaks the running cell), and forwards every control message to the
 * main thread, which sends its replies back through here.
 */
import { parentPort, workerData } from "node:worker_threads";
import * as zmq from "zeromq";
import { endpoint, type ConnectionInfo } from "./connection.js";
import { decode, encode, Signer } from "./wire.js";
import { makeMessage } from "./message.js";
import { SendQueue } from "./send-queue.js";

/** Messages between the main thread and this worker. */
export type ControlToMain = { kind: "ready" } | { kind: "frames"; frames: Uint8Array[] } | { kind: "error"; message: string };
export type MainToControl = { kind: "send"; frames: Uint8Array[] } | { kind: "close" } | { kind: "interrupted" };

/** How often, and how many times, SIGINT is repeated until the main thread confirms it. */
const SIGINT_RETRY_MS = 100;
const SIGINT_RETRIES = 100;

async function main(): Promise<void> {
  const info = workerData.info as ConnectionInfo;
  const session = workerData.session as string;
  const signer = new Signer(info.key, info.signature_scheme);
  const control = new zmq.Router({ linger: 0 });
  const hb = new zmq.Reply({ linger: 0 });
  await control.bind(endpoint(info, "control"));
  await hb.bind(endpoint(info, "hb"));
  const out = new SendQueue(control, (e) => parentPort!.postMessage({ kind: "error", message: String(e) }));
  // A SIGINT that lands just before the cell's breakOnSigint watchdog is armed is queued for a
  // JS listener the busy loop never lets run; so it is repeated until the main thread confirms.
  let retry: NodeJS.Timeout | undefined;
  const raiseSigint = (tries: number) => {
    process.kill(process.pid, "SIGINT");
    if (tries < SIGINT_RETRIES) retry = setTimeout(() => raiseSigint(tries + 1), SIGINT_RETRY_MS);
  };
  parentPort!.on("message", (m: MainToControl) => {
    if (m.kind === "interrupted") clearTimeout(retry);
    else if (m.kind === "send") void out.send(m.frames.map((f) => Buffer.from(f.buffer, f.byteOffset, f.byteLength)));
    else if (m.kind === "close") {
      void out.flush().then(() => {
        control.close();
        hb.close();
        parentPort!.close();
      });
    }
  });
  void (async () => {
    for await (const frames of hb) await hb.send(frames);
  })().catch(() => undefined);
  parentPort!.postMessage({ kind: "ready" } satisfies ControlToMain);
  for await (const frames of control) {
    try {
      const msg = decode(frames, signer);
      if (msg.header.msg_type === "interrupt_request") {
        clearTimeout(retry);
        raiseSigint(0);
        void out.send(encode(makeMessage("interrupt_reply", { status: "ok" }, session, msg, { identities: msg.identities }), signer) as Buffer[]);
      }
    } catch {
      // The main thread decodes again and logs what was wrong; nothing to do here.
    }
    parentPort!.postMessage({ kind: "frames", frames } satisfies ControlToMain);
  }
}

main().catch((e) => parentPort!.postMessage({ kind: "error", message: String(e?.stack ?? e) } satisfies ControlToMain));
