import { readFileSync } from "node:fs";

/** The connection file Jupyter writes for a kernel (kernels.rst, "Connection files"). */
export interface ConnectionInfo {
  transport: "tcp" | "ipc";
  ip: string;
  key: string;
  signature_scheme: string;
  shell_port: number;
  iopub_port: number;
  stdin_port: number;
  control_port: number;
  hb_port: number;
  kernel_name?: string;
}

export type Channel = "shell" | "iopub" | "stdin" | "control" | "hb";

/** Reads and validates a connection file; names the missing field when one is absent. */
export function readConnectionFile(path: string): ConnectionInfo {
  const raw = JSON.parse(readFileSync(path, "utf8"));
  for (const k of ["ip", "shell_port", "iopub_port", "stdin_port", "control_port", "hb_port"]) {
    if (raw[k] === undefined) throw new Error(`connection file ${path}: missing "${k}"`);
  }
  return { transport: "tcp", key: "", signature_scheme: "hmac-sha256", ...raw };
}

/** The ZeroMQ endpoint of one channel; binds to exactly the connection file's address. */
export function endpoint(info: ConnectionInfo, channel: Channel): string {
  const port = info[`${channel}_port` as const];
  if (info.transport === "ipc") return `ipc://${info.ip}-${port}`;
  return `tcp://${info.ip}:${port}`;
}
