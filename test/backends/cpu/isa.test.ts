// Every kernel set the CPU supports (AVX-512, AVX2+FMA, portable) and odd pool sizes, each in
// a child process because the choice is made once at load (SPARSELAB_ISA, SPARSELAB_THREADS).
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { requireAddon } from "./helpers.js";

const script = fileURLToPath(new URL("./isa-check.js", import.meta.url));

function cpuHas(flag: string): boolean {
  try {
    return spawnSync("grep", ["-qw", flag, "/proc/cpuinfo"]).status === 0;
  } catch {
    return false;
  }
}

const runs: { isa: string; name: string; threads: string; available: boolean }[] = [
  { isa: "avx512", name: "AVX-512", threads: "2", available: cpuHas("avx512f") && cpuHas("avx512bw") && cpuHas("avx512vl") && cpuHas("avx512dq") },
  { isa: "avx2", name: "AVX2+FMA", threads: "3", available: cpuHas("avx2") && cpuHas("fma") },
  { isa: "generic", name: "portable", threads: "1", available: true },
];

for (const r of runs) {
  test(`kernel set ${r.name} with ${r.threads} thread(s) matches the JS reference`, { skip: r.available ? false : `this CPU lacks ${r.name}` }, async () => {
    await requireAddon();
    const p = spawnSync(process.execPath, [script], {
      env: { ...process.env, SPARSELAB_ISA: r.isa, SPARSELAB_THREADS: r.threads },
      encoding: "utf8",
      timeout: 120_000,
    });
    assert.equal(p.status, 0, `child failed:\n${p.stdout}\n${p.stderr}`);
    const info = JSON.parse(p.stdout.split("\n")[0]) as { isa: string; threads: number };
    assert.equal(info.isa, r.name);
    assert.equal(info.threads, Number(r.threads));
  });
}
