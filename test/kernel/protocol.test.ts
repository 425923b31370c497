// Protocol tests: a real kernel process driven over ZeroMQ by our client.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, mkdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startKernel, makeMessage, encode, sleep, type LaunchedKernel } from "./client.js";

let k: LaunchedKernel;
let cwd: string;

before(async () => {
  // A notebook folder with a tiny ESM-only package (exports only an "import" condition).
  cwd = mkdtempSync(join(tmpdir(), "sparselab-kernel-test-"));
  const pkg = join(cwd, "node_modules", "esm-only-pkg");
  mkdirSync(pkg, { recursive: true });
  writeFileSync(join(pkg, "package.json"), JSON.stringify({ name: "esm-only-pkg", version: "1.0.0", type: "module", exports: { ".": { types: "./index.d.ts", import: "./index.js" } } }));
  writeFileSync(join(pkg, "index.js"), "export const answer = 42; export default function greet(n) { return `hi ${n}`; }\n");
  writeFileSync(join(pkg, "index.d.ts"), "export declare const answer: number; export default function greet(n: string): string;\n");
  k = await startKernel({ cwd });
});

after(async () => {
  await k?.shutdown();
});

test("heartbeat echoes", async () => {
  const ms = await k.client.ping();
  assert.ok(ms >= 0);
});

test("kernel_info_reply has language_info for typescript", async () => {
  const r = await k.client.request("shell", "kernel_info_request", {});
  const c = r.reply!.content;
  assert.equal(c.status, "ok");
  assert.equal(c.protocol_version, "5.3");
  assert.equal(c.language_info.name, "typescript");
  assert.equal(c.language_info.mimetype, "text/typescript");
  assert.equal(c.language_info.file_extension, ".ts");
  // busy and idle bracket it, with it as parent (the idle is what the client waited for)
  assert.equal(r.reply!.parent_header.msg_id, r.msg.header.msg_id);
});

test("execute: result, stream, execution_count, no ANSI in text/plain", async () => {
  const r = await k.client.execute("const greeting: string = 'hello';\nconsole.log(greeting, 1);\n({ a: 1, b: [1, 2] })");
  assert.equal(r.reply.content.status, "ok");
  assert.equal(r.stdout, "hello 1\n");
  assert.equal(r.result?.["text/plain"], "{ a: 1, b: [ 1, 2 ] }");
  assert.doesNotMatch(r.result?.["text/plain"], /\u001b\[/);
  const input = r.iopub.find((m) => m.header.msg_type === "execute_input");
  assert.equal(input?.content.execution_count, r.reply.content.execution_count);
});

test("type error: TSError with the cell's line:column, and the cell does not run", async () => {
  const r = await k.client.execute("(globalThis as any).ranTypeError = true;\n\nconst n: number = 'x';");
  assert.equal(r.reply.content.status, "error");
  assert.equal(r.error?.ename, "TSError");
  assert.match(r.error!.evalue, /line 3:7/);
  assert.match(r.error!.traceback.join("\n"), /line 3:7 - error TS2322/);
  const check = await k.client.execute("(globalThis as any).ranTypeError === undefined");
  assert.equal(check.result?.["text/plain"], "true");
});

test("runtime error: traceback frames point at the cell's own lines", async () => {
  const r = await k.client.execute("function thrower(): number {\n  throw new RangeError('too far');\n}\nconst y = 1;\nthrower();");
  assert.equal(r.reply.content.status, "error");
  assert.equal(r.error?.ename, "RangeError");
  assert.equal(r.error?.evalue, "too far");
  const tb = r.error!.traceback.join("\n");
  assert.match(tb, /at thrower \(cell \[\d+\] line 2:9\)/);
  assert.match(tb, /line 5:1\)/);
  assert.doesNotMatch(tb, /dist\/kernel/);
});

test("declarations carry across cells; let can be reassigned; re-declaring shadows", async () => {
  await k.client.execute("let counter = 1;\nfunction bump() { counter += 1; return counter; }\ninterface Pt { x: number }\ntype Id = string;");
  const r1 = await k.client.execute("counter = 10;\nconst p: Pt = { x: bump() };\np.x");
  assert.equal(r1.reply.content.status, "ok", JSON.stringify(r1.error));
  assert.equal(r1.result?.["text/plain"], "11");
  const r2 = await k.client.execute("const counter = 'now a string';\ncounter.toUpperCase()");
  assert.equal(r2.result?.["text/plain"], "'NOW A STRING'");
  const r3 = await k.client.execute("const id: Id = 5;");
  assert.equal(r3.error?.ename, "TSError");
  const r4 = await k.client.execute("const fixed = 1;");
  assert.equal(r4.reply.content.status, "ok");
  const r5 = await k.client.execute("fixed = 2;");
  assert.equal(r5.error?.ename, "TSError");
  assert.match(r5.error!.evalue, /constant/);
});

test("declare global in a cell types a global for every later cell", async () => {
  const r1 = await k.client.execute("declare global { var runConfig: { steps: number } }\nglobalThis.runConfig = { steps: 3 };");
  assert.equal(r1.reply.content.status, "ok", JSON.stringify(r1.error));
  const r2 = await k.client.execute("runConfig.steps * 2");
  assert.equal(r2.result?.["text/plain"], "6", JSON.stringify(r2.error));
  const r3 = await k.client.execute("const s: string = runConfig.steps;");
  assert.equal(r3.error?.ename, "TSError"); // the augmentation's type is enforced, not any
  assert.match(r3.error!.evalue, /number/);
});

test("user_expressions are evaluated with the cells' names in scope", async () => {
  await k.client.execute("let ue = 20;");
  const r = await k.client.request("shell", "execute_request", { code: "ue += 1;", silent: false, store_history: true, user_expressions: { a: "ue * 2", b: "nope(" }, allow_stdin: false });
  const u = r.reply!.content.user_expressions;
  assert.equal(u.a.status, "ok");
  assert.equal(u.a.data["text/plain"], "42");
  assert.equal(u.b.status, "error");
});

test("top-level await, and a promise as the last expression is awaited", async () => {
  const r = await k.client.execute("const v = await new Promise<number>((r) => setTimeout(() => r(7), 5));\nPromise.resolve(v * 6)");
  assert.equal(r.result?.["text/plain"], "42");
});

test("imports: an ESM-only package from the notebook folder, a node builtin, and sparselab", async () => {
  const r = await k.client.execute('import greet, { answer } from "esm-only-pkg";\nimport { basename } from "node:path";\nimport * as lib from "sparselab";\n`${greet(basename("/a/b"))} ${answer} ${typeof lib.createBlockMask}`');
  assert.equal(r.reply.content.status, "ok", JSON.stringify(r.error));
  assert.equal(r.result?.["text/plain"], "'hi b 42 function'");
  const again = await k.client.execute("answer + 1");
  assert.equal(again.result?.["text/plain"], "43");
  const dyn = await k.client.execute('const m = await import("esm-only-pkg");\nm.answer');
  assert.equal(dyn.result?.["text/plain"], "42");
});

test("sl is preloaded and typed", async () => {
  const r = await k.client.execute("const bm = sl.createBlockMask(sl.masks.causal(), { qLen: 256, kvLen: 256, blockSize: 128 });\nbm.density({ level: 'block', denominator: 'full' })");
  assert.equal(r.reply.content.status, "ok", JSON.stringify(r.error));
  assert.equal(r.result?.["text/plain"], "0.75");
  const bad = await k.client.execute("sl.createBlockMask(42);");
  assert.equal(bad.error?.ename, "TSError");
});

test("display, display handles and update_display_data, rich MIME, clear_output", async () => {
  const r = await k.client.execute(
    "const h = display('first', { id: true });\nawait h.update('second');\ndisplay.html('<b>x</b>');\ndisplay.markdown('# t');\n" +
      "display({ [Symbol.for('Jupyter.display')]: () => ({ 'text/html': '<i>mine</i>' }) });\nclearOutput(true);\n" +
      "({ data: [{ type: 'bar', x: ['a'], y: [1] }], layout: { title: 'fig' } })",
  );
  const types = r.iopub.map((m) => m.header.msg_type);
  const disp = r.iopub.filter((m) => m.header.msg_type === "display_data");
  const upd = r.iopub.find((m) => m.header.msg_type === "update_display_data")!;
  assert.ok(upd, types.join(","));
  assert.equal(upd.content.transient.display_id, disp[0].content.transient.display_id);
  assert.equal(upd.content.data["text/plain"], "'second'");
  for (const d of disp) assert.equal(typeof d.content.transient, "object");
  assert.deepEqual(disp[1].content.data["text/html"], "<b>x</b>");
  assert.equal(disp[2].content.data["text/markdown"], "# t");
  assert.equal(disp[3].content.data["text/html"], "<i>mine</i>");
  assert.ok(types.includes("clear_output"));
  assert.ok(r.result?.["application/vnd.plotly.v1+json"]);
  assert.match(r.result?.["text/html"], /Plotly/);
});

test("outputs keep the order the code made them, an async display included", async () => {
  const r = await k.client.execute(
    "console.log('one');\n" +
      "display({ [Symbol.for('Jupyter.display')]: async () => { await new Promise((r) => setTimeout(r, 40)); return { 'text/plain': 'two (slow)' }; } });\n" +
      "console.log('three');\ndisplay('four');\nconsole.log('five');",
  );
  const seen = r.iopub
    .filter((m) => m.header.msg_type === "stream" || m.header.msg_type === "display_data")
    .map((m) => (m.header.msg_type === "stream" ? m.content.text : m.content.data["text/plain"]))
    .join("|");
  assert.equal(seen, "one\n|two (slow)|three\n|'four'|five\n");
});

test("stream routing: output of a callback goes to the request that started it", async () => {
  const r1 = await k.client.execute("setTimeout(() => console.log('late line'), 30);\n'started'");
  const late = new Promise<any>((resolve) => {
    const off = k.client.onIopub((m) => {
      if (m.header.msg_type === "stream" && m.content.text.includes("late line")) (off(), resolve(m));
    });
  });
  const m = await late;
  assert.equal(m.parent_header.msg_id, r1.reply.parent_header.msg_id);
});

test("huge output is truncated with a notice", async () => {
  const r = await k.client.execute("for (let i = 0; i < 200000; i++) console.log('xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx');\n'done'");
  assert.equal(r.result?.["text/plain"], "'done'");
  assert.ok(r.stdout.length < 1_200_000, `stdout ${r.stdout.length}`);
  assert.match(r.stdout, /output truncated/);
});

test("unhandled rejections and throws in callbacks are reported, the kernel survives", async () => {
  const r = await k.client.execute("Promise.reject(new Error('nobody caught me'));\nsetTimeout(() => { throw new Error('timer threw'); }, 5);\nawait new Promise((r) => setTimeout(r, 50));\n1");
  const errs = r.iopub.filter((m) => m.header.msg_type === "error").map((m) => m.content.evalue);
  assert.ok(errs.includes("nobody caught me"), JSON.stringify(errs));
  assert.ok(errs.includes("timer threw"), JSON.stringify(errs));
  const ok = await k.client.execute("2 + 2");
  assert.equal(ok.result?.["text/plain"], "4");
});

test("complete and inspect count cursor positions in code points", async () => {
  const code = "const 𝛼lpha = 1; const émoji = '😀'; 𝛼l";
  const r = await k.client.request("shell", "complete_request", { code, cursor_pos: [...code].length });
  const c = r.reply!.content;
  assert.equal(c.status, "ok");
  assert.ok(c.matches.includes("𝛼lpha"), JSON.stringify(c.matches.slice(0, 10)));
  assert.equal(c.cursor_end, [...code].length);
  assert.equal(c.cursor_start, [...code].length - 2);
  const m = await k.client.request("shell", "complete_request", { code: "sl.createBl", cursor_pos: 11 });
  assert.deepEqual(m.reply!.content.matches, ["createBlockMask"]);
  const code2 = "const é = '😀'; sl.createBlockMask";
  const ins = await k.client.request("shell", "inspect_request", { code: code2, cursor_pos: [...code2].length - 3, detail_level: 0 });
  assert.equal(ins.reply!.content.found, true);
  assert.match(ins.reply!.content.data["text/plain"], /function createBlockMask\(mask: [\w.]*Mask/);
});

test("is_complete", async () => {
  const ask = async (code: string) => (await k.client.request("shell", "is_complete_request", { code })).reply!.content;
  assert.equal((await ask("1 + 1")).status, "complete");
  const inc = await ask("function f() {");
  assert.equal(inc.status, "incomplete");
  assert.equal(typeof inc.indent, "string");
  assert.equal((await ask("`open ${1")).status, "incomplete");
  assert.equal((await ask("1 + )")).status, "invalid");
});

test("history tail and search", async () => {
  await k.client.execute("const historyMarker = 'hm';");
  const r = await k.client.request("shell", "history_request", { hist_access_type: "tail", n: 3, output: false, raw: true });
  const h = r.reply!.content.history as [number, number, string][];
  assert.equal(h.length, 3);
  assert.equal(h[h.length - 1][2], "const historyMarker = 'hm';");
  const s = await k.client.request("shell", "history_request", { hist_access_type: "search", pattern: "*historyMarker*", output: false, raw: true });
  assert.equal(s.reply!.content.history.length, 1);
});

test("comms: open from the front-end, messages with buffers both ways, comm_info, close", async () => {
  const setup = await k.client.execute(
    "import { getKernelComms } from 'sparselab/widgets';\nconst comms = getKernelComms()!;\n" +
      "comms.registerTarget('test.echo', (id, data, buffers) => {\n" +
      "  comms.onMsg(id, (d, bufs) => { console.log('got', d.n, bufs.length); comms.send(id, { n: d.n + 1, len: bufs[0]?.byteLength }, [new Uint8Array([9, 8, 7])]); });\n" +
      "  comms.onClose(id, () => console.log('closed'));\n});\n'ok'",
  );
  assert.equal(setup.reply.content.status, "ok", JSON.stringify(setup.error));
  const open = await k.client.request("shell", "comm_open", { comm_id: "c1", target_name: "test.echo", data: {} }, { needReply: false });
  assert.ok(!open.iopub.some((m) => m.header.msg_type === "comm_close"));
  const msg = await k.client.request("shell", "comm_msg", { comm_id: "c1", data: { n: 1 } }, { needReply: false, buffers: [new Uint8Array([1, 2, 3, 4])] });
  const reply = msg.iopub.find((m) => m.header.msg_type === "comm_msg")!;
  assert.deepEqual(reply.content.data, { n: 2, len: 4 });
  assert.deepEqual([...reply.buffers[0]], [9, 8, 7]);
  const printed = msg.iopub.find((m) => m.header.msg_type === "stream")!;
  assert.equal(printed.content.text, "got 1 1\n");
  assert.equal(printed.parent_header.msg_id, msg.msg.header.msg_id);
  const info = await k.client.request("shell", "comm_info_request", { target_name: "test.echo" });
  assert.deepEqual(info.reply!.content.comms, { c1: { target_name: "test.echo" } });
  const none = await k.client.request("shell", "comm_info_request", { target_name: "other" });
  assert.deepEqual(none.reply!.content.comms, {});
  await k.client.request("shell", "comm_close", { comm_id: "c1", data: {} }, { needReply: false });
  const after = await k.client.request("shell", "comm_info_request", {});
  assert.equal(after.reply!.content.comms.c1, undefined);
  const unknown = await k.client.request("shell", "comm_open", { comm_id: "c2", target_name: "nobody.serves.this", data: {} }, { needReply: false });
  assert.ok(unknown.iopub.some((m) => m.header.msg_type === "comm_close" && m.content.comm_id === "c2"));
});

test("stdin: await input() round trip", async () => {
  k.client.onInput = (prompt) => `answer to ${prompt}`;
  const r = await k.client.execute("const reply = await input('q?');\nreply");
  assert.equal(r.result?.["text/plain"], "'answer to q?'");
  const denied = await k.client.execute("await input('x')", { allowStdin: false });
  assert.equal(denied.reply.content.status, "error");
});

test("stop_on_error aborts queued executes", async () => {
  const p1 = k.client.execute("await new Promise((r) => setTimeout(r, 50));\nthrow new Error('first fails');");
  const p2 = k.client.execute("globalThis.secondRan = true");
  const [r1, r2] = await Promise.all([p1, p2]);
  assert.equal(r1.reply.content.status, "error");
  assert.equal(r2.reply.content.status, "aborted");
  const check = await k.client.execute("(globalThis as any).secondRan === undefined");
  assert.equal(check.result?.["text/plain"], "true");
});

test("interrupt_request on control breaks a busy loop; the kernel still answers", async () => {
  const running = k.client.execute("let spins = 0;\nwhile (true) { spins++; }");
  await sleep(300);
  const ir = await k.client.request("control", "interrupt_request", {});
  assert.equal(ir.reply!.content.status, "ok");
  const r = await running;
  assert.equal(r.reply.content.status, "error");
  assert.equal(r.error?.ename, "KeyboardInterrupt");
  const after = await k.client.execute("1 + 2");
  assert.equal(after.result?.["text/plain"], "3");
});

test("interrupt aborts an awaiting cell and the ambient cancellation signal", async () => {
  const running = k.client.execute("await new Promise((r) => setTimeout(r, 60_000));");
  await sleep(200);
  await k.client.request("control", "interrupt_request", {});
  const r = await running;
  assert.equal(r.error?.ename, "KeyboardInterrupt");
});

test("a message with a bad signature is dropped (no reply), and the kernel goes on", async () => {
  const msg = makeMessage("execute_request", { code: "globalThis.forged = 1", silent: false }, k.client.session);
  const frames = encode(msg, k.client.signer);
  frames[frames.findIndex((f) => Buffer.from(f).toString() === "<IDS|MSG>") + 1] = Buffer.from("0".repeat(64));
  await k.client.sendFrames("shell", frames);
  await sleep(100);
  const r = await k.client.execute("(globalThis as any).forged === undefined");
  assert.equal(r.result?.["text/plain"], "true");
});
