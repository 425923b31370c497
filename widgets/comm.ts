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
  /**
   * Optional: a stream message (stdout/stderr) in the current output context. Widgets use it
   * to report errors thrown by user callbacks; without it they fall back to console.error.
   */
  stream?(name: "stdout" | "stderr", text: string): void;
  /**
   * Optional: the kernel's rich formatter for any value (the bundle a cell's last expression
   * would show). interact() uses it for the callback's return value; without it widgets use
   * the Symbol.for("Jupyter.display") protocol, else a text/plain rendering.
   */
  format?(value: unknown): Record<string, unknown> | Promise<Record<string, unknown>>;
}

let current: KernelComms | undefined;
const installHooks = new Set<(k: KernelComms) => void>();

export function setKernelComms(k: KernelComms | undefined): void {
  current = k;
  if (k) for (const hook of installHooks) hook(k);
}

/**
 * Runs `hook` with the KernelComms now (if one is installed) and whenever one is installed
 * later: widgets use it to register the `jupyter.widget.control` comm target.
 * Returns a function that removes the hook.
 */
export function onKernelComms(hook: (k: KernelComms) => void): () => void {
  installHooks.add(hook);
  if (current) hook(current);
  return () => installHooks.delete(hook);
}

export function getKernelComms(): KernelComms | undefined {
  return current;
}
