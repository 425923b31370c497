/**
 * The contract between widgets (this folder) and the kernel (kernel/): the kernel installs a
 * KernelComms at start-up with `setKernelComms`; widgets use `getKernelComms()`. Outside a
 * kernel (plain node, tests) there is none and widgets still work as plain objects.
 *
 * Buffers are binary frames that travel beside the JSON (widgets protocol 2.1 buffer_paths).
 */
export interface CommMessageHandler {
  (data: any, buffers: Uint8Array[], parentMsgId: string): void | Promise<void>;
}

export interface KernelComms {
  /** comm_open on iopub (kernel-created comm). */
  open(opts: {
    commId: string;
    targetName: string;
    data: any;
    metadata?: Record<string, unknown>;
    buffers?: Uint8Array[];
  }): void;
  /** comm_msg on iopub. */
  send(commId: string, data: any, buffers?: Uint8Array[], metadata?: Record<string, unknown>): void;
  /** comm_close on iopub. */
  close(commId: string, data?: any): void;
  /** Messages from the front-end for this comm; one handler per comm. */
  onMsg(commId: string, handler: CommMessageHandler): void;
  onClose(commId: string, handler: () => void): void;
  /** Comms the front-end opens for `targetName` (e.g. "jupyter.widget.control"). */
  registerTarget(targetName: string, handler: (commId: string, data: any, buffers: Uint8Array[]) => void): void;
  /** Live comms, for comm_info_reply. */
  list(): Map<string, string>;
  /** display_data of a bundle in the current output context (cell or callback). */
  display(bundle: Record<string, unknown>, metadata?: Record<string, unknown>, displayId?: string, update?: boolean): void;
  /** Clears the current output area (clear_output). */
  clearOutput(wait?: boolean): void;
  /** The msg_id of the request being handled: an execute_request or a comm_msg. */
  currentParentMsgId(): string;
}

let current: KernelComms | undefined;

export function setKernelComms(k: KernelComms | undefined): void {
  current = k;
}

export function getKernelComms(): KernelComms | undefined {
  return current;
}
