// Framing and signing, without a kernel.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { decode, encode, Signer, DELIMITER, WireError } from "../../kernel/protocol/wire.js";
import { makeMessage } from "../../kernel/protocol/message.js";

test("signature is HMAC-SHA256 over the four JSON frames only, buffers excluded", () => {
  const s = new Signer("secret");
  const msg = makeMessage("comm_msg", { comm_id: "x", data: {} }, "sess", undefined, { buffers: [new Uint8Array([1, 2, 3])], identities: [Buffer.from("id1")] });
  const frames = encode(msg, s).map((f) => Buffer.from(f));
  const d = frames.findIndex((f) => f.equals(DELIMITER));
  assert.equal(d, 1);
  const h = createHmac("sha256", "secret");
  for (const f of frames.slice(d + 2, d + 6)) h.update(f);
  assert.equal(frames[d + 1].toString(), h.digest("hex"));
  const back = decode(frames, s);
  assert.deepEqual(back.identities, [Buffer.from("id1")]);
  assert.deepEqual([...back.buffers[0]], [1, 2, 3]);
  assert.equal(back.header.msg_type, "comm_msg");
});

test("changing any JSON frame or the buffers: only JSON changes break the signature", () => {
  const s = new Signer("k");
  const frames = encode(makeMessage("execute_request", { code: "1" }, "s", undefined, { buffers: [new Uint8Array([5])] }), s).map((f) => Buffer.from(f));
  const d = frames.findIndex((f) => f.equals(DELIMITER));
  for (let i = 2; i < 6; i++) {
    const bad = frames.slice();
    bad[d + i] = Buffer.from(bad[d + i].toString().replace("}", ', "x": 1}'));
    assert.throws(() => decode(bad, s), WireError);
  }
  const otherBuf = frames.slice();
  otherBuf[d + 6] = Buffer.from([6]);
  assert.doesNotThrow(() => decode(otherBuf, s));
});

test("empty key: empty signature, anything accepted", () => {
  const s = new Signer("");
  const frames = encode(makeMessage("kernel_info_request", {}, "s"), s).map((f) => Buffer.from(f));
  assert.equal(frames[1].length, 0);
  assert.equal(decode(frames, s).header.msg_type, "kernel_info_request");
});

test("malformed frames are rejected with a reason", () => {
  const s = new Signer("k");
  assert.throws(() => decode([Buffer.from("nothing")], s), /delimiter/);
  assert.throws(() => decode([DELIMITER, Buffer.from("sig")], s), /truncated/);
  const good = encode(makeMessage("x_request", {}, "s"), s).map((f) => Buffer.from(f));
  const wrongLen = good.slice();
  wrongLen[1] = Buffer.from("abc");
  assert.throws(() => decode(wrongLen, s), /bad signature/);
  const arrayHeader = [Buffer.from("[]"), good[3], good[4], good[5]];
  assert.throws(() => decode([DELIMITER, Buffer.from(s.sign(arrayHeader)), ...arrayHeader], s), /not a JSON object/);
});
