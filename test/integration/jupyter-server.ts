/**
 * Starts Debian's Jupyter server on loopback with a token, with our kernelspec installed in a
 * private JUPYTER_PATH. Fails (never skips) when the Debian packages are missing.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { installKernelspec } from "../../kernel/cli/install.js";
import { freePorts } from "../../kernel/client/launch.js";

export const PYTHON = "/usr/bin/python3";
export const INSTALL_HINT = "install the Debian packages: apt-get install python3-jupyter-server python3-nbclient python3-jupyter-client python3-nbformat (.ci/run does)";

/** Throws with an install hint unless `modules` import in Debian's Python. */
export function requirePython(modules: string[]): void {
  if (!existsSync(PYTHON)) throw new Error(`${PYTHON} not found; ${INSTALL_HINT}`);
  const r = spawnSync(PYTHON, ["-c", modules.map((m) => `import ${m}`).join("; ")], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`${modules.join(", ")} not importable by ${PYTHON} (${r.stderr.trim().split("\n").pop()}); ${INSTALL_HINT}`);
}

/** A private Jupyter environment (data, runtime, config dirs) with our kernelspec installed. */
export function jupyterEnv(): { dir: string; env: NodeJS.ProcessEnv; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), "sparselab-jupyter-"));
  installKernelspec({ where: { prefix: dir } });
  for (const d of ["data", "runtime", "config", "notebooks"]) mkdirSync(join(dir, d), { recursive: true });
  const env = {
    ...process.env,
    JUPYTER_PATH: join(dir, "share", "jupyter"),
    JUPYTER_DATA_DIR: join(dir, "data"),
    JUPYTER_RUNTIME_DIR: join(dir, "runtime"),
    JUPYTER_CONFIG_DIR: join(dir, "config"),
    JUPYTER_PLATFORM_DIRS: "1",
  };
  return { dir, env, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface RunningServer {
  baseUrl: string;
  wsUrl: string;
  token: string;
  proc: ChildProcess;
  log(): string;
  stop(): Promise<void>;
}

/**
 * Starts jupyter-server and waits until /api/status answers; `extraArgs` are more ServerApp
 * options (the browser test serves its page with extra_static_paths).
 */
export async function startJupyterServer(opts: { extraArgs?: string[] } = {}): Promise<RunningServer> {
  requirePython(["jupyter_server", "jupyter_client"]);
  const { dir, env, cleanup } = jupyterEnv();
  const [port] = await freePorts(1);
  const token = randomBytes(16).toString("hex");
  const args = ["--allow-root", "--no-browser", "--ip", "127.0.0.1", "--port", String(port), `--ServerApp.token=${token}`, `--ServerApp.root_dir=${join(dir, "notebooks")}`, "--ServerApp.port_retries=0", ...(opts.extraArgs ?? [])];
  const proc = existsSync("/usr/bin/jupyter-server") ? spawn("/usr/bin/jupyter-server", args, { env, cwd: dir }) : spawn(PYTHON, ["-m", "jupyter_server", ...args], { env, cwd: dir });
  let log = "";
  proc.stdout!.on("data", (d) => (log += d));
  proc.stderr!.on("data", (d) => (log += d));
  const baseUrl = `http://127.0.0.1:${port}/`;
  const until = Date.now() + 60_000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`jupyter-server exited (${proc.exitCode}):\n${log}`);
    try {
      const r = await fetch(`${baseUrl}api/status?token=${token}`);
      if (r.ok) break;
    } catch {
      /* not listening yet */
    }
    if (Date.now() > until) {
      proc.kill("SIGKILL");
      throw new Error(`jupyter-server did not answer within 60 s:\n${log}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    baseUrl,
    wsUrl: `ws://127.0.0.1:${port}/`,
    token,
    proc,
    log: () => log,
    async stop() {
      const exited = new Promise((r) => proc.once("exit", r));
      proc.kill("SIGTERM");
      const t = setTimeout(() => proc.kill("SIGKILL"), 5000);
      await exited;
      clearTimeout(t);
      cleanup();
    },
  };
}
