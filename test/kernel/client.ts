/**
 * The kernel test client, for any engineer's tests: start a kernel in a child process and
 * drive it over ZeroMQ like a front-end.
 * @example
 * const k = await startKernel();
 * const r = await k.client.execute("1 + 1");
 * assert.equal(r.result?.["text/plain"], "2");
 * await k.shutdown();
 */
export { KernelClient, type ExecuteResult } from "../../kernel/client/client.js";
export { launchKernel as startKernel, makeConnectionInfo, type LaunchedKernel } from "../../kernel/client/launch.js";
export { makeMessage, type Message } from "../../kernel/protocol/message.js";
export { encode, decode, Signer, DELIMITER } from "../../kernel/protocol/wire.js";

/** A seeded PRNG (mulberry32) so failing fuzz/property runs can be replayed. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
