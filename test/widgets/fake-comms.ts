/**
 * A fake kernel for widget tests: records what widgets send (comm_open/msg/close, displays,
 * clears, streams) and plays the front-end's part by delivering comm messages to handlers.
 */
import type { CommMessageHandler, KernelComms } from "../../widgets/comm.js";
import { closeAll, setKernelComms } from "../../widgets/index.js";

export interface Sent {
  kind: "open" | "msg" | "close" | "display" | "clear" | "stream";
  commId?: string;
  data?: any;
  buffers?: Uint8Array[];
  metadata?: Record<string, unknown>;
  targetName?: string;
  /** The parent msg_id current when it was sent. */
  parent: string;
}

export class FakeComms implements KernelComms {
  log: Sent[] = [];
  parent = "execute-1";
  handlers = new Map<string, CommMessageHandler>();
  closeHandlers = new Map<string, () => void>();
  targets = new Map<string, (commId: string, data: any, buffers: Uint8Array[]) => void>();
  live = new Map<string, string>();

  open(o: { commId: string; targetName: string; data: any; metadata?: Record<string, unknown>; buffers?: Uint8Array[] }): void {
    // JSON round trip: what would really go over the wire (and proves it serialises)
    this.live.set(o.commId, o.targetName);
    this.log.push({ kind: "open", commId: o.commId, targetName: o.targetName, data: JSON.parse(JSON.stringify(o.data)), metadata: o.metadata, buffers: o.buffers ?? [], parent: this.parent });
  }
  send(commId: string, data: any, buffers?: Uint8Array[]): void {
    this.log.push({ kind: "msg", commId, data: JSON.parse(JSON.stringify(data)), buffers: buffers ?? [], parent: this.parent });
  }
  close(commId: string): void {
    this.live.delete(commId);
    this.log.push({ kind: "close", commId, parent: this.parent });
  }
  onMsg(commId: string, handler: CommMessageHandler): void {
    this.handlers.set(commId, handler);
  }
  onClose(commId: string, handler: () => void): void {
    this.closeHandlers.set(commId, handler);
  }
  registerTarget(targetName: string, handler: (commId: string, data: any, buffers: Uint8Array[]) => void): void {
    this.targets.set(targetName, handler);
  }
  list(): Map<string, string> {
    return this.live;
  }
  display(bundle: Record<string, unknown>): void {
    this.log.push({ kind: "display", data: bundle, parent: this.parent });
  }
  clearOutput(wait?: boolean): void {
    this.log.push({ kind: "clear", data: { wait: !!wait }, parent: this.parent });
  }
  currentParentMsgId(): string {
    return this.parent;
  }
  stream(name: "stdout" | "stderr", text: string): void {
    this.log.push({ kind: "stream", data: { name, text }, parent: this.parent });
  }

  /** Delivers a comm_msg from the front-end (as the kernel would, with parent = its msg id). */
  async fromFrontend(commId: string, data: any, buffers: Uint8Array[] = [], msgId = `comm-msg-${Math.random().toString(16).slice(2)}`): Promise<void> {
    const h = this.handlers.get(commId);
    if (!h) throw new Error(`no handler for comm ${commId}`);
    const prev = this.parent;
    this.parent = msgId;
    try {
      await h(data, buffers, msgId);
    } finally {
      this.parent = prev;
    }
  }

  opens(): Sent[] {
    return this.log.filter((s) => s.kind === "open");
  }
  msgs(commId?: string): Sent[] {
    return this.log.filter((s) => s.kind === "msg" && (commId === undefined || s.commId === commId));
  }
  openOf(commId: string): Sent {
    const o = this.log.find((s) => s.kind === "open" && s.commId === commId);
    if (!o) throw new Error(`no comm_open for ${commId}`);
    return o;
  }
}

/** Closes leftovers and installs a fresh fake kernel. */
export function freshKernel(): FakeComms {
  setKernelComms(undefined);
  closeAll();
  const k = new FakeComms();
  setKernelComms(k);
  return k;
}

/** Lets queued microtasks (deferred comm_opens) and promise chains run. */
export function settle(): Promise<void> {
  return new Promise((r) => setImmediate(r));
}
