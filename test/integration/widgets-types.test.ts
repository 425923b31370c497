// Type-checks test/widgets/types-fixture.ts with the compiler: the public widget API's inference (interact's
// values and controls, typed properties, typed anywidget state) must keep working.
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";

const root = fileURLToPath(new URL("../../..", import.meta.url));

test("public widget types infer interact values/controls and reject wrong property types", { timeout: 60_000 }, () => {
  const file = join(root, "test/widgets/types-fixture.ts");
  const program = ts.createProgram([file], {
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    lib: ["lib.es2023.d.ts", "lib.dom.d.ts"],
    types: ["node"],
  });
  const diags = ts.getPreEmitDiagnostics(program).filter((d) => !d.file || d.file.fileName.includes("/widgets/"));
  const text = diags.map((d) => ts.flattenDiagnosticMessageText(d.messageText, "\n") + (d.file ? ` (${d.file.fileName}:${d.file.getLineAndCharacterOfPosition(d.start ?? 0).line + 1})` : ""));
  assert.deepEqual(text, []);
});
