/**
 * `sparselab install`: writes the kernelspec (kernel.json + logos) where Jupyter looks for
 * kernels (jupyter_core's data dirs: --user, --sys-prefix, or --prefix P).
 */
import { mkdirSync, writeFileSync, existsSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { execFileSync, spawnSync } from "node:child_process";
import { cliPath } from "../paths.js";
import { logoPng } from "./png.js";

export type InstallWhere = "user" | "sys-prefix" | { prefix: string };

export interface InstallResult {
  name: string;
  dir: string;
  /** Whether `jupyter kernelspec list` shows it; undefined when Jupyter is not installed. */
  listed?: boolean;
}

/** The Python that has Jupyter (Debian's /usr/bin/python3 here), if any. */
export function jupyterPython(): string | undefined {
  for (const p of ["/usr/bin/python3", "python3"]) {
    const r = spawnSync(p, ["-c", "import jupyter_core"], { stdio: "ignore" });
    if (r.status === 0) return p;
  }
  return undefined;
}

function userDataDir(): string {
  if (process.env.JUPYTER_DATA_DIR) return process.env.JUPYTER_DATA_DIR;
  if (process.platform === "darwin") return join(homedir(), "Library", "Jupyter");
  return join(process.env.XDG_DATA_HOME ?? join(homedir(), ".local", "share"), "jupyter");
}

function sysPrefix(): string {
  const py = jupyterPython();
  if (!py) return "/usr/local";
  return execFileSync(py, ["-c", "import sys; print(sys.prefix)"], { encoding: "utf8" }).trim();
}

/** The kernel.json for this install: this node, this package's CLI. */
export function kernelJson(displayName = "TypeScript (sparselab)"): Record<string, unknown> {
  return {
    argv: [process.execPath, cliPath, "kernel", "--connection-file", "{connection_file}"],
    display_name: displayName,
    language: "typescript",
    interrupt_mode: "message",
    env: {},
    metadata: { debugger: false },
  };
}

/**
 * Installs the kernelspec and checks that Jupyter lists it.
 * @example
 * installKernelspec({ where: "user" }); // ~/.local/share/jupyter/kernels/sparselab
 */
export function installKernelspec(opts: { where?: InstallWhere; name?: string; displayName?: string } = {}): InstallResult {
  const name = opts.name ?? "sparselab";
  if (!/^[a-zA-Z0-9._-]+$/.test(name)) throw new Error(`sparselab install: --name must be letters, digits, ".", "_" or "-", got "${name}"`);
  const where = opts.where ?? "user";
  const base = where === "user" ? userDataDir() : where === "sys-prefix" ? join(sysPrefix(), "share", "jupyter") : join(where.prefix, "share", "jupyter");
  const dir = join(base, "kernels", name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "kernel.json"), JSON.stringify(kernelJson(opts.displayName), null, 1) + "\n");
  writeFileSync(join(dir, "logo-32x32.png"), logoPng(32));
  writeFileSync(join(dir, "logo-64x64.png"), logoPng(64));
  return { name, dir, listed: listed(name, dir, where) };
}

function listed(name: string, dir: string, where: InstallWhere): boolean | undefined {
  const py = jupyterPython();
  if (!py) return undefined;
  const env = { ...process.env };
  if (typeof where === "object") env.JUPYTER_PATH = [join(where.prefix, "share", "jupyter"), env.JUPYTER_PATH].filter(Boolean).join(":");
  const r = spawnSync(py, ["-c", "import json; from jupyter_client.kernelspec import KernelSpecManager as K; print(json.dumps(K().find_kernel_specs()))"], { encoding: "utf8", env });
  if (r.status !== 0) return undefined;
  try {
    const specs = JSON.parse(r.stdout) as Record<string, string>;
    return specs[name] !== undefined && existsSync(join(specs[name], "kernel.json")) && specs[name] === dir;
  } catch {
    return undefined;
  }
}
