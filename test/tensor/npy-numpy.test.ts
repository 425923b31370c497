import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as sl from "../../lib/index.js";

/*
 * Interoperability with NumPy itself: numpy writes .npy files that we read, and reads the ones
 * we write. Uses the first Python that can import numpy: SPARSELAB_PYTHON, then `python3` on
 * PATH, then /usr/bin/python3; with none, the test is skipped and says why.
 */
const candidates = [process.env.SPARSELAB_PYTHON, "python3", "/usr/bin/python3"].filter((p): p is string => !!p);
const PY = candidates.find((p) => spawnSync(p, ["-c", "import numpy"], { encoding: "utf8" }).status === 0);
const why = PY ? "" : `no Python with numpy among ${candidates.join(", ")}`;

function py(code: string): string {
  const r = spawnSync(PY!, ["-c", code], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`python failed: ${r.stderr}`);
  return r.stdout;
}

test("numpy-written .npy files read back exactly; numpy reads ours", { skip: why || false }, async () => {
  const dir = mkdtempSync(join(tmpdir(), "sl-np-"));
  try {
    py(`
import numpy as np
d = ${JSON.stringify(dir)}
np.save(d + "/f4.npy", np.arange(24, dtype=np.float32).reshape(2, 3, 4) / 8 - 1)
np.save(d + "/f2.npy", np.array([1.0, -0.5, np.inf, 2**-24], dtype=np.float16))
np.save(d + "/i4.npy", np.array([[-5, 7], [2**31 - 1, -2**31]], dtype=np.int32))
np.save(d + "/u1.npy", np.array([0, 255, 9], dtype=np.uint8))
np.save(d + "/b1.npy", np.array([[True, False, True]]))
np.save(d + "/scalar.npy", np.float32(2.5))
np.save(d + "/f8.npy", np.array([0.1, 1e-3]))
np.save(d + "/fortran.npy", np.asfortranarray(np.ones((2, 3), dtype=np.float32)))
`);
    const f4 = await sl.loadNpy(join(dir, "f4.npy"));
    assert.deepEqual([f4.dtype, f4.shape], ["f32", [2, 3, 4]]);
    assert.deepEqual(Array.from(f4.data), Array.from({ length: 24 }, (_, i) => i / 8 - 1));
    assert.deepEqual(Array.from((await sl.loadNpy(join(dir, "f2.npy"))).data), [0x3c00, 0xb800, 0x7c00, 0x0001]);
    assert.deepEqual(await (await sl.loadNpy(join(dir, "i4.npy"))).toArray(), [[-5, 7], [2 ** 31 - 1, -(2 ** 31)]]);
    assert.deepEqual(Array.from((await sl.loadNpy(join(dir, "u1.npy"))).data), [0, 255, 9]);
    const b1 = await sl.loadNpy(join(dir, "b1.npy"));
    assert.deepEqual([b1.dtype, b1.shape, Array.from(b1.data)], ["bool", [1, 3], [1, 0, 1]]);
    const sc = await sl.loadNpy(join(dir, "scalar.npy"));
    assert.deepEqual([sc.shape, sc.item()], [[], 2.5]);
    assert.deepEqual(Array.from((await sl.loadNpy(join(dir, "f8.npy"))).data), [Math.fround(0.1), Math.fround(1e-3)]);
    await assert.rejects(() => sl.loadNpy(join(dir, "fortran.npy")), /Fortran/);

    await sl.saveNpy(join(dir, "ours_f4.npy"), sl.tensor([[1.5, -2], [NaN, Infinity]]));
    await sl.saveNpy(join(dir, "ours_f2.npy"), sl.tensor([1, 65504], { dtype: "f16" }));
    await sl.saveNpy(join(dir, "ours_i4.npy"), sl.arange(6).reshape([3, 2]));
    await sl.saveNpy(join(dir, "ours_b1.npy"), sl.tensor([true, false]));
    await sl.saveNpy(join(dir, "ours_u1.npy"), sl.tensor([3, 250], { dtype: "u8" }));
    await sl.saveNpy(join(dir, "ours_0d.npy"), sl.tensor(7, { dtype: "i32" }));
    const out = py(`
import numpy as np, json
d = ${JSON.stringify(dir)}
r = {}
for k in ["f4", "f2", "i4", "b1", "u1", "0d"]:
    a = np.load(d + "/ours_" + k + ".npy")
    r[k] = [str(a.dtype), list(a.shape), [str(v) for v in a.ravel().tolist()]]
print(json.dumps(r))
`);
    assert.deepEqual(JSON.parse(out), {
      f4: ["float32", [2, 2], ["1.5", "-2.0", "nan", "inf"]],
      f2: ["float16", [2], ["1.0", "65504.0"]],
      i4: ["int32", [3, 2], ["0", "1", "2", "3", "4", "5"]],
      b1: ["bool", [2], ["True", "False"]],
      u1: ["uint8", [2], ["3", "250"]],
      "0d": ["int32", [], ["7"]],
    });
  } finally {
    rmSync(dir, { recursive: true });
  }
});
