import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { PROTOCOL_VERSION } from "../protocol/message.js";
import { packageVersion } from "../paths.js";

function typescriptVersion(): string {
  try {
    const req = createRequire(import.meta.url);
    return JSON.parse(readFileSync(req.resolve("typescript/package.json"), "utf8")).version;
  } catch {
    return "5";
  }
}

/** kernel_info_reply content; nbclient refuses a kernel without language_info. */
export function kernelInfo(): Record<string, unknown> {
  const version = packageVersion();
  return {
    status: "ok",
    protocol_version: PROTOCOL_VERSION,
    implementation: "sparselab",
    implementation_version: version,
    language_info: {
      name: "typescript",
      version: typescriptVersion(),
      mimetype: "text/typescript",
      file_extension: ".ts",
      pygments_lexer: "typescript",
      codemirror_mode: { name: "javascript", typescript: true },
      nbconvert_exporter: "script",
    },
    banner: `sparselab ${version}: TypeScript (type-checked cells, Node ${process.version}) with sparse attention and MoE preloaded as \`sl\``,
    help_links: [{ text: "sparselab", url: "https://github.com/sparselab/sparselab" }],
    debugger: false,
  };
}
