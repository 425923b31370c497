/**
 * Debian's jupyter-server on loopback with a token and our kernelspec (test/integration's
 * private Jupyter environment), also serving the bundled live page from its own origin under
 * /static/ (extra_static_paths), so the page needs no CORS exceptions.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { freePorts } from "../../kernel/client/launch.js";
import { jupyterEnv, requirePython, PYTHON } from "../integration/jupyter-server.js";

export interface LiveServer {
  /** The live page's URL, token included. */
  pageUrl: string;
  baseUrl: string;
  token: string;
  proc: ChildProcess;
  log(): string;
  stop(): Promise<void>;
}

export async function startLiveServer(pageDir: string): Promise<LiveServer> {
  requirePython(["jupyter_server", "jupyter_client"]);
  const { dir, env, cleanup } = jupyterEnv();
  const [port] = await freePorts(1);
  const token = randomBytes(16).toString("hex");
  const args = [
    "--allow-root", "--no-browser", "--ip", "127.0.0.1", "--port", String(port), "--ServerApp.port_retries=0",
    `--ServerApp.token=${token}`, `--ServerApp.root_dir=${join(dir, "notebooks")}`, "--ServerApp.extra_static_paths", pageDir,
  ];
  const proc = existsSync("/usr/bin/jupyter-server") ? spawn("/usr/bin/jupyter-server", args, { env, cwd: dir }) : spawn(PYTHON, ["-m", "jupyter_server", ...args], { env, cwd: dir });
  let log = "";
  proc.stdout!.on("data", (d) => (log += d));
  proc.stderr!.on("data", (d) => (log += d));
  const baseUrl = `http://127.0.0.1:${port}/`;
  const until = Date.now() + 60_000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`jupyter-server exited (${proc.exitCode}):\n${log}`);
    try {
      if ((await fetch(`${baseUrl}api/status?token=${token}`)).ok) break;
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
    pageUrl: `${baseUrl}static/index.html?token=${token}`,
    baseUrl,
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
