import * as sl from "../../lib/index.js";

/**
 * Test helpers: fresh seeds per run (printed in every failure message so a failure can be
 * replayed with SPARSELAB_TEST_SEED), float64 references and error norms.
 */
export function freshSeed(): number {
  const env = process.env.SPARSELAB_TEST_SEED;
  return env ? Number(env) : Math.floor(Math.random() * 2 ** 31);
}

/** ||out - ref|| / ||ref|| (0 when both are 0); NaN anywhere in out gives Infinity. */
export function relErr(out: ArrayLike<number>, ref: ArrayLike<number>): number {
  if (out.length !== ref.length) return Infinity;
  let num = 0, den = 0;
  for (let i = 0; i < out.length; i++) {
    if (Number.isNaN(out[i]) && !Number.isNaN(ref[i])) return Infinity;
    const d = out[i] - ref[i];
    num += d * d;
    den += ref[i] * ref[i];
  }
  return den === 0 ? Math.sqrt(num) : Math.sqrt(num / den);
}

/** Largest |a - b| over elements, with NaN matching NaN. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity;
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    if (Number.isNaN(a[i]) || Number.isNaN(b[i])) {
      if (Number.isNaN(a[i]) !== Number.isNaN(b[i])) return Infinity;
      continue;
    }
    if (a[i] === b[i]) continue; // equal infinities
    m = Math.max(m, Math.abs(a[i] - b[i]));
  }
  return m;
}

/** Asserts fn throws a SparselabError whose message contains every fragment. */
export function expectError(fn: () => unknown, ...fragments: string[]): void {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  check(err, fragments);
}

export async function expectReject(p: () => Promise<unknown>, ...fragments: string[]): Promise<void> {
  let err: unknown;
  try {
    await p();
  } catch (e) {
    err = e;
  }
  check(err, fragments);
}

function check(err: unknown, fragments: string[]): void {
  if (!(err instanceof sl.SparselabError)) throw new Error(`expected a SparselabError containing ${JSON.stringify(fragments)}, got ${err === undefined ? "no error" : String(err)}`);
  for (const f of fragments) if (!err.message.includes(f)) throw new Error(`error message ${JSON.stringify(err.message)} lacks ${JSON.stringify(f)}`);
}
