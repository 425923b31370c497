/**
 * The kernel side of comms (widgets/comm.ts's KernelComms): kernel-opened comms go out on
 * iopub; front-end messages are dispatched to per-comm handlers inside the output context of
 * the comm_msg, so a callback's prints and displays carry that message as parent.
 */
import type { CommMessageHandler, KernelComms } from "../../widgets/comm.js";
import { currentContext } from "../io/output-context.js";
import { formatState, showIn } from "../display/api.js";
import { formatValue } from "../display/format.js";

export class Comms implements KernelComms {
  private readonly live = new Map<string, string>();
  private readonly msgHandlers = new Map<string, CommMessageHandler>();
  private readonly closeHandlers = new Map<string, () => void>();
  private readonly targets = new Map<string, (commId: string, data: any, buffers: Uint8Array[]) => void>();

  open(opts: { commId: string; targetName: string; data: any; metadata?: Record<string, unknown>; buffers?: Uint8Array[] }): void {
    this.live.set(opts.commId, opts.targetName);
    currentContext()?.publish("comm_open", { comm_id: opts.commId, target_name: opts.targetName, data: opts.data ?? {} }, { metadata: opts.metadata, buffers: opts.buffers });
  }

  send(commId: string, data: any, buffers?: Uint8Array[], metadata?: Record<string, unknown>): void {
    currentContext()?.publish("comm_msg", { comm_id: commId, data: data ?? {} }, { metadata, buffers });
  }

  close(commId: string, data?: any): void {
    if (!this.live.delete(commId)) return;
    this.msgHandlers.delete(commId);
    this.closeHandlers.delete(commId);
    currentContext()?.publish("comm_close", { comm_id: commId, data: data ?? {} });
  }

  onMsg(commId: string, handler: CommMessageHandler): void {
    this.msgHandlers.set(commId, handler);
  }

  onClose(commId: string, handler: () => void): void {
    this.closeHandlers.set(commId, handler);
  }

  registerTarget(targetName: string, handler: (commId: string, data: any, buffers: Uint8Array[]) => void): void {
    this.targets.set(targetName, handler);
  }

  list(): Map<string, string> {
    return new Map(this.live);
  }

  display(bundle: Record<string, unknown>, metadata?: Record<string, unknown>, displayId?: string, update?: boolean): void {
    void showIn(currentContext(), bundle, { raw: true, metadata }, displayId, !!update);
  }

  clearOutput(wait = false): void {
    currentContext()?.publish("clear_output", { wait });
  }

  stream(name: "stdout" | "stderr", text: string): void {
    currentContext()?.stream(name, text);
  }

  format(value: unknown): Promise<Record<string, unknown>> {
    return formatValue(value, formatState);
  }

  currentParentMsgId(): string {
    return currentContext()?.msgId ?? "";
  }

  // -- front-end -> kernel (called by the kernel's shell handlers)

  /** comm_open from the front-end; false when nobody serves the target (caller closes it). */
  frontendOpen(commId: string, targetName: string, data: any, buffers: Uint8Array[]): boolean {
    const t = this.targets.get(targetName);
    if (!t) return false;
    this.live.set(commId, targetName);
    t(commId, data, buffers);
    return true;
  }

  /** comm_msg from the front-end; resolves when the handler (maybe async) is done. */
  async frontendMsg(commId: string, data: any, buffers: Uint8Array[], parentMsgId: string): Promise<boolean> {
    const h = this.msgHandlers.get(commId);
    if (!h) return false;
    await h(data, buffers, parentMsgId);
    return true;
  }

  frontendClose(commId: string): void {
    const h = this.closeHandlers.get(commId);
    this.live.delete(commId);
    this.msgHandlers.delete(commId);
    this.closeHandlers.delete(commId);
    h?.();
  }

  reset(): void {
    this.live.clear();
    this.msgHandlers.clear();
    this.closeHandlers.clear();
  }
}
