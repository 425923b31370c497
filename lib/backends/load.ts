import { backends, setBackendStatus, type BackendName } from "./registry.js";

/**
 * The one place that loads the optional native backends. Each lives in its own module
 * (lib/backends/<name>/index.js) that registers its ops on import or from an exported
 * `load()`. A module that is missing, throws, or finds no addon/GPU leaves the backend marked
 * "not loaded" with the reason, and the JS reference runs instead: never a crash, never silent
 * (`sl.backends()` says why).
 *
 * SPARSELAB_NATIVE=0 skips native loading entirely (useful to test the pure-JS path).
 */
const NATIVE: { name: BackendName; module: string }[] = [
  { name: "cpu", module: "./cpu/index.js" },
  { name: "cuda", module: "./cuda/index.js" },
];

let loading: Promise<void> | undefined;

/**
 * @internal Imports one backend module (a path relative to this file, or a file: URL) and runs
 * its `load()`, recording a "not loaded" status with the reason on any failure. Exported for
 * tests; ready() does this for cpu and cuda.
 */
export async function loadBackendModule(name: BackendName, module: string): Promise<void> {
  const url = new URL(module, import.meta.url);
  const statusOf = () => {
    const st = backends().find((x) => x.name === name);
    return st ? `${st.loaded}|${st.reason ?? ""}` : undefined;
  };
  const before = statusOf();
  try {
    const mod: { load?: () => unknown } = await import(url.href);
    if (typeof mod.load === "function") await mod.load();
    // A module that neither registered ops nor reported a status would leave the backend
    // invisible in backends(); report it instead.
    if (!backends().some((s) => s.name === name))
      setBackendStatus({ name, loaded: false, reason: `${module} loaded but registered no ops` });
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const missing = err?.code === "ERR_MODULE_NOT_FOUND" && String(err.message).includes(url.pathname.split("/").slice(-2).join("/"));
    const reason = missing
      ? `not built (no ${module.startsWith("./") ? module.replace("./", "lib/backends/").replace(/\.js$/, ".ts") : module} module)`
      : `load failed: ${err?.message ?? String(e)}`;
    // Keep a more precise "not loaded" status the module itself recorded before throwing.
    const now = backends().find((x) => x.name === name);
    const recordedByModule = now !== undefined && !now.loaded && statusOf() !== before;
    if (!recordedByModule) setBackendStatus({ name, loaded: false, reason });
  }
}

function start(): Promise<void> {
  if (!loading) {
    const skip = typeof process !== "undefined" && process.env.SPARSELAB_NATIVE === "0";
    loading = skip
      ? Promise.resolve().then(() => {
          for (const { name } of NATIVE) setBackendStatus({ name, loaded: false, reason: "skipped (SPARSELAB_NATIVE=0)" });
        })
      : Promise.all(NATIVE.map((b) => loadBackendModule(b.name, b.module))).then(() => undefined);
  }
  return loading;
}

/**
 * Resolves once the optional native backends (cpu, cuda) have tried to load. Ops await it
 * themselves; a notebook awaits it before printing `sl.backends()`.
 * @example
 * await sl.ready();
 * sl.backends();   // [{ name: "js", loaded: true, ... }, { name: "cpu", loaded: true, detail: "AVX-512, 2 threads", ... }, ...]
 */
export function ready(): Promise<void> {
  return start();
}

// Start at import time so the addons load while the user writes the first cell.
void start();
