/**
 * Type-checks cells with a TypeScript LanguageService over a fixed set of virtual files (the
 * pending cell, a scratch file for completion, the globals, and one scope module holding every
 * committed cell as a namespace), and answers completion, inspection and is_complete. The file
 * set and every file's imports stay the same from cell to cell, so TypeScript reuses the whole
 * program structure and the lib and package .d.ts files: checking a new cell only parses and
 * binds the pending cell and the scope module, and checks the pending cell.
 */
import ts from "./ts.js";
import type * as TS from "typescript";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { buildCellSources, scopeChunk, type ScopeEntry } from "./cell-source.js";
import { codePointToUtf16, lineCol, lineStarts, utf16ToCodePoint } from "./edits.js";
import { decodeMappings } from "./source-map.js";

export interface CheckerOptions {
  /** The notebook's working directory: bare and relative imports resolve from here. */
  cwd: string;
  /** The sparselab package root (holds dist/). */
  packageRoot: string;
}

export interface CellDiagnostic {
  line: number;
  column: number;
  code: number;
  message: string;
}

export interface CheckResult {
  ok: boolean;
  diagnostics: CellDiagnostic[];
  /** Virtual file name of the cell (also the name its stack frames carry). */
  cell: string;
  /** CommonJS JavaScript to run (when ok). */
  js?: string;
  /** Per generated JS line: [generated column, cell line, cell column] (cell positions 1-based). */
  lineMap?: [number, number, number][][];
  /** Whether the cell has a last expression whose value is its result. */
  hasResult?: boolean;
}

export interface CompleteResult {
  matches: string[];
  cursor_start: number;
  cursor_end: number;
  types: { text: string; type: string; start: number; end: number }[];
}

export interface InspectResult {
  found: boolean;
  text: string;
}

/** Errors that are artefacts of the cell-as-module design, not the user's mistakes. */
const IGNORED = new Set([
  2632, // "Cannot assign to 'x' because it is an import": reassigning an earlier cell's let
  7016, // untyped JS package: allowed, as any
  1208, // isolatedModules "file is not a module"
]);

interface VFile {
  text: string;
  version: number;
}

function cached<T>(cache: Map<string, T>, key: string, f: (k: string) => T): T {
  let v = cache.get(key);
  if (v === undefined && !cache.has(key)) cache.set(key, (v = f(key)));
  return v as T;
}

export class Checker {
  private readonly files = new Map<string, VFile>();
  private readonly scope = new Map<string, ScopeEntry>();
  /** Cells each cell imports from (its header), to keep them alive while it is. */
  private readonly deps = new Map<string, Set<string>>();
  private nextCell = 1;
  private readonly service: TS.LanguageService;
  private readonly registry: TS.DocumentRegistry;
  private readonly options: TS.CompilerOptions;
  private readonly globalsFile: string;
  private readonly pendingFile: string;
  private readonly scratchFile: string;
  /** Every committed cell, as one namespace each, in one module (see scopeHeader). */
  private readonly scopeFile: string;
  private readonly chunks = new Map<string, { imports: string; body: string }>();
  /** `declare global` blocks of committed cells, by cell; they outlive the cell's names. */
  private readonly globalAugments = new Map<string, string>();
  // Module resolution probes the disk for every file on every new program; installed packages
  // do not change during a session, so remembering the answers keeps a cell check in the ms.
  private readonly diskCache = new Map<string, TS.IScriptSnapshot | undefined>();
  private readonly existsCache = new Map<string, boolean>();
  private readonly dirCache = new Map<string, boolean>();
  private readonly realCache = new Map<string, string>();
  private readonly readCache = new Map<string, string | undefined>();

  constructor(private readonly opts: CheckerOptions) {
    const root = opts.packageRoot;
    const typeRoots = [join(opts.cwd, "node_modules", "@types"), join(root, "node_modules", "@types")].filter((p) => existsSync(p));
    this.options = {
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.ESNext,
      moduleResolution: ts.ModuleResolutionKind.Bundler,
      // No DOM lib: cells run in Node (@types/node declares console, timers, fetch, URL,
      // performance...), and the DOM globals alone double the cost of checking each cell.
      lib: ["lib.es2023.d.ts"],
      types: ["node"],
      typeRoots,
      strict: true,
      skipLibCheck: true,
      esModuleInterop: true,
      allowSyntheticDefaultImports: true,
      resolveJsonModule: true,
      noEmit: true,
      allowJs: false,
      paths: {
        sparselab: [join(root, "dist/lib/index.d.ts")],
        "sparselab/widgets": [join(root, "dist/widgets/index.d.ts")],
      },
    };
    this.globalsFile = join(opts.cwd, "__sparselab_globals.d.ts");
    this.pendingFile = join(opts.cwd, "__cell_pending.ts");
    this.scratchFile = join(opts.cwd, "__scratch.ts");
    this.scopeFile = join(opts.cwd, "__sparselab_scope.ts");
    this.files.set(this.scopeFile, { text: "export {};", version: 1 });
    this.files.set(this.globalsFile, { text: this.globalsText(), version: 1 });
    this.files.set(this.pendingFile, { text: "export {};", version: 1 });
    this.files.set(this.scratchFile, { text: "export {};", version: 1 });
    const host: TS.LanguageServiceHost = {
      getCompilationSettings: () => this.options,
      // The root names never change: TypeScript rebuilds a program from scratch (all module
      // resolution redone) when they do. Committed cells are reached through imports instead.
      getScriptFileNames: () => [this.globalsFile, this.pendingFile, this.scratchFile],
      getScriptVersion: (f) => String(this.files.get(f)?.version ?? 0),
      getScriptSnapshot: (f) => {
        const v = this.files.get(f);
        if (v) return f === this.scopeFile ? this.scopeSnapshot(v.text) : ts.ScriptSnapshot.fromString(v.text);
        if (this.diskCache.has(f)) return this.diskCache.get(f);
        const text = ts.sys.readFile(f);
        const snap = text === undefined ? undefined : ts.ScriptSnapshot.fromString(text);
        this.diskCache.set(f, snap);
        return snap;
      },
      getCurrentDirectory: () => opts.cwd,
      getDefaultLibFileName: (o) => ts.getDefaultLibFilePath(o),
      fileExists: (f) => this.files.has(f) || cached(this.existsCache, f, ts.sys.fileExists),
      // Installed packages (package.json probes on every new program) are read once; the
      // notebook's own files are re-read, since the user may edit them between cells.
      readFile: (f) => this.files.get(f)?.text ?? (f.includes("/node_modules/") ? cached(this.readCache, f, (k) => ts.sys.readFile(k)) : ts.sys.readFile(f)),
      directoryExists: (d) => cached(this.dirCache, d, ts.sys.directoryExists),
      getDirectories: (d) => ts.sys.getDirectories(d),
      realpath: (p) => cached(this.realCache, p, ts.sys.realpath!),
      useCaseSensitiveFileNames: () => true,
    };
    this.registry = ts.createDocumentRegistry();
    this.service = ts.createLanguageService(host, this.registry);
  }

  /**
   * The scope module grows by a namespace per cell: a snapshot that tells TypeScript which span
   * changed lets it reparse incrementally, reusing the earlier cells' nodes.
   */
  private scopeSnapshot(text: string): TS.IScriptSnapshot {
    const snap = ts.ScriptSnapshot.fromString(text);
    snap.getChangeRange = (old) => {
      const prev = old.getText(0, old.getLength());
      let a = 0;
      const max = Math.min(prev.length, text.length);
      while (a < max && prev.charCodeAt(a) === text.charCodeAt(a)) a++;
      let b = 0;
      while (b < max - a && prev.charCodeAt(prev.length - 1 - b) === text.charCodeAt(text.length - 1 - b)) b++;
      return ts.createTextChangeRange(ts.createTextSpan(a, prev.length - a - b), text.length - a - b);
    };
    return snap;
  }

  /** Declarations of the preloaded globals (sl, display, input, clearOutput, widgets, interact). */
  private globalsText(): string {
    const root = this.opts.packageRoot;
    const api = join(root, "dist/kernel/display/api.js");
    const hasWidgets = existsSync(join(root, "dist/widgets/index.d.ts"));
    return [
      `import type * as __sl from "sparselab";`,
      `import type { DisplayFunction, InputFunction, ClearOutputFunction } from ${JSON.stringify(api)};`,
      hasWidgets ? `import type * as __widgets from "sparselab/widgets";` : "",
      `declare global {`,
      `  var sl: typeof __sl;`,
      `  var display: DisplayFunction;`,
      `  var input: InputFunction;`,
      `  var clearOutput: ClearOutputFunction;`,
      hasWidgets ? `  var widgets: typeof __widgets;` : "",
      hasWidgets ? `  var interact: typeof __widgets extends { interact: infer I } ? I : never;` : "",
      `}`,
      `export {};`,
    ].join("\n");
  }

  /**
   * The checked cell's header line: earlier cells' names come from their namespaces in the one
   * scope module. A new cell then changes that module's text but not the program's files or
   * imports, so TypeScript reuses the whole program structure (no walk over the ~500 lib,
   * @types and package files, no module resolution) and only parses, binds and checks the two
   * changed files: a fresh declaration per cell cost a new program walk each time (~30 ms).
   */
  private scopeHeader(byCell: Map<string, string[]>, code?: string): string {
    // With no earlier names the module is still imported: its `declare global` blocks must reach
    // the cell.
    if (byCell.size === 0) return this.globalAugments.size ? `import "./__sparselab_scope";` : "";
    // A checked cell needs only the names its text mentions (resolving a few hundred unused
    // aliases is most of checking a small cell); completion in the scratch file needs them all.
    const words = code === undefined ? undefined : new Set(code.match(/[\p{L}\p{N}_$]+/gu));
    let h = `import { ${[...byCell.keys()].join(", ")} } from "./__sparselab_scope";`;
    for (const [cell, names] of byCell) for (const n of names) if (!words || words.has(n)) h += ` import ${n} = ${cell}.${n};`;
    return h;
  }

  /** How a specifier loads at run time: "sparselab" from this package whatever the cwd. */
  runtimeSpecifier(spec: string): string {
    if (spec === "sparselab") return pathToFileURL(join(this.opts.packageRoot, "dist/lib/index.js")).href;
    if (spec === "sparselab/widgets") return pathToFileURL(join(this.opts.packageRoot, "dist/widgets/index.js")).href;
    return spec;
  }

  private setFile(name: string, text: string): void {
    const f = this.files.get(name);
    if (f) {
      if (f.text !== text) {
        f.text = text;
        f.version++;
      }
    } else this.files.set(name, { text, version: 1 });
  }

  /**
   * Checks a cell; when it type-checks, commits its declarations to the scope (so the next cell
   * sees them) and returns the JavaScript to run.
   */
  check(code: string): CheckResult {
    const cell = `__cell_${this.nextCell}`;
    const fileName = this.pendingFile;
    let byCell = new Map<string, string[]>();
    const src = buildCellSources(code, this.scope, (s) => this.runtimeSpecifier(s), (b) => this.scopeHeader((byCell = b), code));
    this.setFile(fileName, src.checked.text);
    const headerLen = src.checked.text.indexOf("\n") + 1;
    const footerStart = src.checked.text.lastIndexOf("\nexport {");
    const starts = lineStarts(code);
    const diags = [...this.service.getSyntacticDiagnostics(fileName), ...this.service.getSemanticDiagnostics(fileName)];
    const out: CellDiagnostic[] = [];
    for (const d of diags) {
      if (d.category !== ts.DiagnosticCategory.Error) continue;
      let message = ts.flattenDiagnosticMessageText(d.messageText, "\n");
      if (d.start !== undefined && (d.start < headerLen || d.start > footerStart)) continue;
      if (d.code === 2632) {
        const name = /'([^']+)'/.exec(message)?.[1];
        if (!name || !this.scope.get(name)?.isConst) continue;
        message = `Cannot assign to '${name}' because it is a constant.`;
      } else if (IGNORED.has(d.code)) continue;
      const pos = d.start === undefined ? 0 : src.checked.toOriginal(d.start);
      const { line, column } = lineCol(starts, pos);
      out.push({ line, column, code: d.code, message });
    }
    if (out.length > 0) return { ok: false, diagnostics: out, cell };

    const t = ts.transpileModule(src.runtime.text, {
      fileName: `${cell}.cts`,
      compilerOptions: { module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext, target: ts.ScriptTarget.ES2022, sourceMap: true, esModuleInterop: false },
    });
    // TypeScript's "exports.x = void 0" preamble would wipe an earlier cell's value of x before
    // this cell assigns it; the __esModule marker and source map URL are noise here.
    const js = t.outputText
      .replace(/^Object\.defineProperty\(exports, "__esModule".*$/m, "")
      .replace(/^(exports\.[\w$]+ = )+void 0;$/gm, "")
      .replace(/^\/\/# sourceMappingURL=.*$/m, "");
    const rtStarts = lineStarts(src.runtime.text);
    const segs = decodeMappings(JSON.parse(t.sourceMapText ?? "{\"mappings\":\"\"}").mappings);
    const lineMap = segs.map((line) =>
      line.map(([g, sl, sc]): [number, number, number] => {
        const off = src.runtime.toOriginal((rtStarts[sl] ?? 0) + sc);
        const lc = lineCol(starts, off);
        return [g, lc.line, lc.column];
      }),
    );
    const chunk = scopeChunk(code, cell, byCell);
    this.chunks.set(cell, chunk);
    if (chunk.globals) this.globalAugments.set(cell, chunk.globals);
    this.commit(cell, src.analysis.declared, chunk.uses);
    const last = src.runtime.text.includes("return (");
    return { ok: true, diagnostics: [], cell, js, lineMap, hasResult: last };
  }

  private commit(cell: string, declared: Map<string, { isConst: boolean }>, byCell: Map<string, string[]>): void {
    this.nextCell++;
    this.deps.set(cell, new Set(byCell.keys()));
    for (const [name, d] of declared) this.scope.set(name, { cell, isConst: d.isConst });
    // Drop cells nothing can reach any more, so a long session's program stays small.
    const live = new Set<string>();
    const stack = [...new Set([...this.scope.values()].map((e) => e.cell))];
    while (stack.length) {
      const c = stack.pop()!;
      if (live.has(c)) continue;
      live.add(c);
      for (const d of this.deps.get(c) ?? []) stack.push(d);
    }
    for (const c of [...this.chunks.keys()])
      if (!live.has(c)) {
        this.chunks.delete(c);
        this.deps.delete(c);
      }
    this.setFile(this.scopeFile, this.scopeText());
  }

  private scopeText(): string {
    let imports = "";
    let bodies = "";
    for (const c of this.chunks.values()) (imports += c.imports), (bodies += c.body);
    return imports + [...this.globalAugments.values()].join("") + bodies + "export {};\n";
  }

  /** Forgets every cell (kernel restart keeps the process only for tests). */
  reset(): void {
    this.chunks.clear();
    this.globalAugments.clear();
    this.setFile(this.scopeFile, this.scopeText());
    this.scope.clear();
    this.deps.clear();
  }

  private scratch(code: string, cursorCp: number) {
    const fileName = this.scratchFile;
    const src = buildCellSources(code, this.scope, (s) => s, (b) => this.scopeHeader(b));
    this.setFile(fileName, src.checked.text);
    const offset = codePointToUtf16(code, cursorCp);
    return { fileName, src, offset, pos: src.checked.toEdited(offset) };
  }

  /** Type-aware completion at a cursor given in code points. */
  complete(code: string, cursorCp: number): CompleteResult {
    const { fileName, offset, pos } = this.scratch(code, cursorCp);
    let start = offset;
    for (;;) {
      // Step back one code point at a time: identifiers may hold astral letters (surrogate pairs).
      const lo = code.charCodeAt(start - 1);
      const width = lo >= 0xdc00 && lo <= 0xdfff && start >= 2 ? 2 : 1;
      if (start - width < 0 || !/^[\p{L}\p{N}_$]$/u.test(code.slice(start - width, start))) break;
      start -= width;
    }
    const prefix = code.slice(start, offset);
    const info = this.service.getCompletionsAtPosition(fileName, pos, { includeCompletionsWithInsertText: false });
    const entries = (info?.entries ?? [])
      .filter((e) => !e.name.startsWith("__sl") && !e.name.startsWith("__cell"))
      .filter((e) => e.name.startsWith(prefix) || e.name.toLowerCase().startsWith(prefix.toLowerCase()))
      .sort((a, b) => (a.sortText === b.sortText ? a.name.localeCompare(b.name) : a.sortText < b.sortText ? -1 : 1))
      .slice(0, 500);
    const cs = utf16ToCodePoint(code, start);
    return {
      matches: entries.map((e) => e.name),
      cursor_start: cs,
      cursor_end: cursorCp,
      types: entries.map((e) => ({ text: e.name, type: e.kind, start: cs, end: cursorCp })),
    };
  }

  /** Hover text (signature and TSDoc) for the identifier at or just before the cursor. */
  inspect(code: string, cursorCp: number): InspectResult {
    const { fileName, pos } = this.scratch(code, cursorCp);
    const q = this.service.getQuickInfoAtPosition(fileName, pos) ?? (pos > 0 ? this.service.getQuickInfoAtPosition(fileName, pos - 1) : undefined);
    if (!q) return { found: false, text: "" };
    // Earlier cells' names are aliases of their namespaces in the scope module (scopeHeader):
    // show them as the imports they stand for, as in the cell.
    const sig = ts
      .displayPartsToString(q.displayParts)
      .replace(/\b__cell_\d+\./g, "")
      .replace(/^import ([\p{L}\p{N}_$]+) = .*$/mu, "import $1");
    const doc = ts.displayPartsToString(q.documentation);
    const tags = (q.tags ?? []).map((t) => `@${t.name} ${ts.displayPartsToString(t.text)}`).join("\n");
    return { found: true, text: [sig, doc, tags].filter(Boolean).join("\n\n") };
  }

  /** is_complete: incomplete while brackets, strings, templates or comments are open. */
  isComplete(code: string): { status: "complete" | "incomplete" | "invalid"; indent?: string } {
    const scanner = ts.createScanner(ts.ScriptTarget.ES2022, false, ts.LanguageVariant.Standard, code);
    const stack: TS.SyntaxKind[] = [];
    let tok = scanner.scan();
    while (tok !== ts.SyntaxKind.EndOfFileToken) {
      if (scanner.isUnterminated()) return { status: "incomplete", indent: "" };
      if (tok === ts.SyntaxKind.OpenBraceToken || tok === ts.SyntaxKind.OpenParenToken || tok === ts.SyntaxKind.OpenBracketToken || tok === ts.SyntaxKind.TemplateHead) stack.push(tok);
      else if (tok === ts.SyntaxKind.CloseBraceToken) {
        if (stack[stack.length - 1] === ts.SyntaxKind.TemplateHead) {
          tok = scanner.reScanTemplateToken(false);
          if (scanner.isUnterminated()) return { status: "incomplete", indent: "" };
          if (tok === ts.SyntaxKind.TemplateTail) stack.pop();
          tok = scanner.scan();
          continue;
        }
        if (stack.pop() !== ts.SyntaxKind.OpenBraceToken) return { status: "invalid" };
      } else if (tok === ts.SyntaxKind.CloseParenToken) {
        if (stack.pop() !== ts.SyntaxKind.OpenParenToken) return { status: "invalid" };
      } else if (tok === ts.SyntaxKind.CloseBracketToken) {
        if (stack.pop() !== ts.SyntaxKind.OpenBracketToken) return { status: "invalid" };
      }
      tok = scanner.scan();
    }
    if (stack.length > 0) return { status: "incomplete", indent: "  ".repeat(stack.length) };
    const sf = ts.createSourceFile("is_complete.ts", code, ts.ScriptTarget.ES2022, false, ts.ScriptKind.TS);
    const parseDiagnostics = (sf as unknown as { parseDiagnostics: TS.Diagnostic[] }).parseDiagnostics;
    return parseDiagnostics.length ? { status: "invalid" } : { status: "complete" };
  }
}
