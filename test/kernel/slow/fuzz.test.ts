// Seeded fuzzer: 10,000 malformed, truncated, mis-signed or mistyped messages on shell,
// control and stdin, then a valid execute must answer correctly. Replay with SPARSELAB_FUZZ_SEED.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { startKernel, makeMessage, encode, seeded, type LaunchedKernel } from "../client.js";

let k: LaunchedKernel | undefined;
after(async () => {
  await k?.shutdown();
});

const MSG_TYPES = ["execute_request", "kernel_info_request", "complete_request", "inspect_request", "is_complete_request", "history_request", "comm_info_request", "comm_open", "comm_msg", "comm_close", "interrupt_request", "shutdown_request", "bogus_request", "input_reply", ""];

function junkValue(rnd: () => number): unknown {
  const r = rnd();
  if (r < 0.15) return null;
  if (r < 0.3) return Math.floor(rnd() * 1e9) - 5e8;
  if (r < 0.45) return "x".repeat(Math.floor(rnd() * 50));
  if (r < 0.55) return [1, "a", null, { deep: [true] }];
  if (r < 0.65) return { nested: { code: 5 } };
  if (r < 0.75) return true;
  if (r < 0.85) return -1;
  return "\u0000\ud800";
}

test("10,000 bad messages leave the kernel serving", { timeout: 180_000 }, async () => {
  const seed = Number(process.env.SPARSELAB_FUZZ_SEED ?? Date.now() % 1_000_000);
  console.log(`fuzz seed ${seed} (replay: SPARSELAB_FUZZ_SEED=${seed})`);
  const rnd = seeded(seed);
  k = await startKernel();
  const c = k.client;
  const channels = ["shell", "control", "stdin"] as const;
  let sent = 0;
  for (let i = 0; i < 10_000; i++) {
    const ch = channels[Math.floor(rnd() * channels.length)];
    const type = MSG_TYPES[Math.floor(rnd() * MSG_TYPES.length)];
    const msg = makeMessage(type, {}, c.session);
    // Mistyped content: every field a random JSON value. shutdown would end the kernel, so the
    // fuzzer never sends it validly signed with a well-formed header.
    const content: Record<string, unknown> = {};
    for (const key of ["code", "cursor_pos", "comm_id", "target_name", "data", "silent", "n", "hist_access_type", "value", "restart"]) if (rnd() < 0.5) content[key] = junkValue(rnd);
    if (type === "execute_request" && typeof content.code === "string") content.code = `/*fuzz*/ ${content.code}`;
    msg.content = content;
    let frames = encode(msg, c.signer).map((f) => Buffer.from(f));
    const d = frames.findIndex((f) => f.toString() === "<IDS|MSG>");
    const mode = rnd();
    if (mode < 0.25) frames[d + 1] = Buffer.from(frames[d + 1].toString().replace(/^./, (ch) => (ch === "a" ? "b" : "a"))); // mis-signed
    else if (mode < 0.4) frames = frames.slice(0, d + 1 + Math.floor(rnd() * 5)); // truncated
    else if (mode < 0.5) frames.splice(d, 1); // no delimiter
    else if (mode < 0.6) frames[d + 2 + Math.floor(rnd() * 4)] = Buffer.from("{not json"); // bad JSON (signature then fails too)
    else if (mode < 0.7) frames = [Buffer.from(Array.from({ length: Math.floor(rnd() * 64) }, () => Math.floor(rnd() * 256)))]; // noise
    else if (mode < 0.8) {
      // validly signed but the header is mistyped
      const header = { ...msg.header, msg_type: rnd() < 0.5 ? 42 : null, msg_id: rnd() < 0.5 ? {} : "id" } as unknown;
      const json = [header, msg.parent_header, msg.metadata, msg.content].map((x) => Buffer.from(JSON.stringify(x)));
      frames = [...frames.slice(0, d), frames[d], Buffer.from(c.signer.sign(json)), ...json];
    } else if (type === "shutdown_request" || type === "interrupt_request" || (type === "execute_request" && typeof content.code === "string")) {
      frames[d + 1] = Buffer.from("0".repeat(64)); // never run junk code or stop the kernel
    } // else: validly signed message with mistyped content
    await c.sendFrames(ch, frames);
    sent++;
  }
  assert.equal(sent, 10_000);
  const r = await c.execute("const fuzzCheck: number = 6 * 7;\nfuzzCheck", { timeoutMs: 120_000 });
  assert.equal(r.reply.content.status, "ok", `seed ${seed}: ${JSON.stringify(r.error)}`);
  assert.equal(r.result?.["text/plain"], "42", `seed ${seed}`);
  assert.ok((await c.ping()) >= 0);
});
