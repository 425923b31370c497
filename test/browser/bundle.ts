/**
 * Bundles the live test page (test/browser/live-page/main.js) with esbuild into `outDir`:
 * index.html, main.js and main.css (fonts inlined), served by the test's Jupyter server.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { build } from "esbuild";
import { packageRoot } from "../../kernel/paths.js";

export async function bundleLivePage(outDir: string): Promise<void> {
  const font = { ".woff": "dataurl", ".woff2": "dataurl", ".ttf": "dataurl", ".eot": "dataurl", ".svg": "dataurl" } as const;
  await build({
    entryPoints: [join(packageRoot, "test", "browser", "live-page", "main.js")],
    outdir: outDir,
    bundle: true,
    format: "iife",
    platform: "browser",
    target: "es2020",
    minify: true,
    logLevel: "error",
    loader: { ".css": "css", ...font },
    // html-manager's embed code assigns webpack's public path; in an esbuild bundle it is a plain global
    banner: { js: 'var __webpack_public_path__ = "";' },
    define: { "process.env.NODE_ENV": '"production"', global: "window" },
  });
  writeFileSync(
    join(outDir, "index.html"),
    `<!doctype html><html><head><meta charset="utf-8"><title>sparselab live test</title><link rel="stylesheet" href="main.css"></head>` +
      `<body><div id="status">loading</div><div id="cells"></div><script src="main.js"></script></body></html>`,
  );
}
