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
import { Mulberry32 } from "../../lib/seeded-random.js";

/** A seeded PRNG (mulberry32) so failing fuzz/property runs can be replayed. */
export function seeded(seed: number): () => number {
  const g = new Mulberry32(seed);
  return () => g.uniform();
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
