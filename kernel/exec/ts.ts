/**
 * TypeScript, loaded through require: importing it as an ES module makes Node lex the 9 MB
 * CommonJS file for named exports first, which costs over a second of kernel start-up.
 */
import { createRequire } from "node:module";
import type * as TS from "typescript";

const ts: typeof TS = createRequire(import.meta.url)("typescript");
export default ts;
