import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";
import { readFileSync } from "node:fs";

/** The sparselab package root (this file is dist/kernel/paths.js). */
export const packageRoot = join(dirname(fileURLToPath(import.meta.url)), "..", "..");

/** The compiled CLI entry, what kernel.json launches. */
export const cliPath = join(packageRoot, "dist", "kernel", "cli.js");

export function packageVersion(): string {
  return JSON.parse(readFileSync(join(packageRoot, "package.json"), "utf8")).version as string;
}
