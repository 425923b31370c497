/**
 * Starts a kernel as a child process with a fresh connection file on loopback, and connects a
 * KernelClient to it.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createServer } from "node:net";
import { mkdtempSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import type { ConnectionInfo } from "../protocol/connection.js";
import { KernelClient } from "./client.js";
import { cliPath } from "../paths.js";

/** Free TCP ports on 127.0.0.1 (bound and released; the kernel binds them right after). */
export async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: n }, () => new Promise<import("node:net").Server>((resolve, reject) => {
      const s = createServer();
      s.once("error", reject);
      s.listen(0, "127.0.0.1", () => resolve(s));
    })),
  );
  const ports = servers.map((s) => (s.address() as { port: number }).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

/** A fresh loopback connection description with a random key. */
export async function makeConnectionInfo(): Promise<ConnectionInfo> {
  const [shell_port, iopub_port, stdin_port, control_port, hb_port] = await freePorts(5);
  return { transport: "tcp", ip: "127.0.0.1", key: randomBytes(16).toString("hex"), signature_scheme: "hmac-sha256", shell_port, iopub_port, stdin_port, control_port, hb_port, kernel_name: "sparselab" };
}

export interface LaunchedKernel {
  client: KernelClient;
  child: ChildProcess;
  info: ConnectionInfo;
  /** Kernel stderr so far (its log). */
  log(): string;
  /** shutdown_request, then waits for the process to exit (kills it after 5 s). */
  shutdown(): Promise<void>;
  /** Milliseconds from spawn to the first kernel_info_reply. */
  startMs: number;
}

/** Spawns `sparselab kernel` in `cwd` and waits until it answers kernel_info. */
export async function launchKernel(opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<LaunchedKernel> {
  const info = await makeConnectionInfo();
  const dir = mkdtempSync(join(tmpdir(), "sparselab-conn-"));
  const file = join(dir, "kernel.json");
  writeFileSync(file, JSON.stringify(info));
  const t0 = performance.now();
  const child = spawn(process.execPath, [cliPath, "kernel", "--connection-file", file], { cwd: opts.cwd ?? process.cwd(), env: { ...process.env, ...opts.env }, stdio: ["ignore", "pipe", "pipe"] });
  let log = "";
  child.stderr!.on("data", (d) => (log += d));
  child.stdout!.on("data", (d) => (log += d));
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  const client = new KernelClient(info);
  client.connect();
  try {
    await Promise.race([
      client.waitReady(opts.timeoutMs ?? 30_000),
      exited.then(() => {
        throw new Error(`kernel exited during start-up:\n${log}`);
      }),
    ]);
  } catch (e) {
    client.close();
    child.kill("SIGKILL");
    throw e;
  }
  const startMs = performance.now() - t0;
  return {
    client,
    child,
    info,
    startMs,
    log: () => log,
    async shutdown() {
      if (child.exitCode === null) {
        try {
          await client.request("control", "shutdown_request", { restart: false }, { timeoutMs: 5000 });
        } catch {
          /* exits anyway below */
        }
        const t = setTimeout(() => child.kill("SIGKILL"), 5000);
        await exited;
        clearTimeout(t);
      }
      client.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
