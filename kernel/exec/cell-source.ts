/**
 * Turns a cell into two module texts:
 *  - the checked source (type-checked as virtual file cell_N.ts): a one-line header importing
 *    every earlier cell's names the cell uses not itself declare, `export` added to each
 *    top-level declaration, and a footer re-exporting the cell's own imports, so later cells
 *    can import everything this one declares (the checker passes its own header instead, which
    aliases the names from the cells' namespaces in its scope module: see scopeChunk);
 *  - the runtime source (transpiled to CommonJS and run): the same, except `import` statements
 *    become `await import(...)` so ESM-only packages load, and the last expression statement
 *    becomes `return (...)` so its value is the cell's result.
 * TypeScript's CommonJS emit rewrites every use of an exported name to `exports.x`, and all
 * cells share one `exports` object, so a later cell reassigning `x` is seen by functions
 * declared earlier (Python's notebook semantics).
 */
import ts from "./ts.js";
import type * as TS from "typescript";
import { EditedText, type Edit } from "./edits.js";

/** Where each name visible to the next cell was last declared. */
export interface ScopeEntry {
  cell: string;
  isConst: boolean;
}

export interface CellAnalysis {
  /** Names this cell declares at top level (values and types). */
  declared: Map<string, { isConst: boolean }>;
  /** Module specifiers of static imports, in order. */
  imports: string[];
}

export interface CellSources {
  analysis: CellAnalysis;
  checked: EditedText;
  runtime: EditedText;
}

function bindingNames(name: TS.BindingName, out: string[]): void {
  if (ts.isIdentifier(name)) out.push(name.text);
  else for (const el of name.elements) if (!ts.isOmittedExpression(el)) bindingNames(el.name, out);
}

function hasExport(node: TS.Node): boolean {
  return !!ts.canHaveModifiers(node) && !!ts.getModifiers(node)?.some((m) => m.kind === ts.SyntaxKind.ExportKeyword);
}

/** `declare global { ... }`: augments the global scope, so it is neither exported nor named. */
export function isGlobalAugmentation(st: TS.Statement): boolean {
  return ts.isModuleDeclaration(st) && (st.flags & ts.NodeFlags.GlobalAugmentation) !== 0;
}

/** Parses a cell once; the source file is reused for every rewrite. */
export function parseCell(code: string, fileName = "cell.ts"): TS.SourceFile {
  return ts.createSourceFile(fileName, code, ts.ScriptTarget.ES2022, true, ts.ScriptKind.TS);
}

/**
 * Builds both sources for `code`, given the scope left by earlier cells and a way to name a
 * runtime specifier (so "sparselab" loads this package's dist whatever the notebook's folder).
 */
export function buildCellSources(
  code: string,
  scope: ReadonlyMap<string, ScopeEntry>,
  resolveRuntimeSpecifier: (spec: string) => string,
  checkedHeader?: (byCell: Map<string, string[]>) => string,
): CellSources {
  const sf = parseCell(code);
  const declared = new Map<string, { isConst: boolean }>();
  const imports: string[] = [];
  const exportEdits: Edit[] = [];
  const importNames: string[] = [];
  const runtimeImportEdits: Edit[] = [];
  let importIndex = 0;

  for (const st of sf.statements) {
    if (ts.isVariableStatement(st)) {
      const names: string[] = [];
      for (const d of st.declarationList.declarations) bindingNames(d.name, names);
      const isConst = (st.declarationList.flags & ts.NodeFlags.Const) !== 0;
      for (const n of names) declared.set(n, { isConst });
      if (!hasExport(st)) exportEdits.push({ pos: st.getStart(sf), remove: 0, insert: "export " });
    } else if (
      ts.isFunctionDeclaration(st) ||
      ts.isClassDeclaration(st) ||
      ts.isInterfaceDeclaration(st) ||
      ts.isTypeAliasDeclaration(st) ||
      ts.isEnumDeclaration(st) ||
      (ts.isModuleDeclaration(st) && ts.isIdentifier(st.name) && !isGlobalAugmentation(st))
    ) {
      if (!st.name) continue;
      declared.set((st.name as TS.Identifier).text, { isConst: !ts.isFunctionDeclaration(st) });
      if (!hasExport(st)) exportEdits.push({ pos: st.getStart(sf), remove: 0, insert: "export " });
    } else if (ts.isImportDeclaration(st) && ts.isStringLiteral(st.moduleSpecifier)) {
      const spec = st.moduleSpecifier.text;
      const clause = st.importClause;
      const start = st.getStart(sf);
      const span = code.slice(start, st.end);
      const newlines = "\n".repeat((span.match(/\n/g) ?? []).length);
      if (clause?.isTypeOnly) {
        if (clause.name) declared.set(clause.name.text, { isConst: true }), importNames.push(clause.name.text);
        if (clause.namedBindings && ts.isNamedImports(clause.namedBindings))
          for (const el of clause.namedBindings.elements) declared.set(el.name.text, { isConst: true }), importNames.push(el.name.text);
        runtimeImportEdits.push({ pos: start, remove: st.end - start, insert: newlines });
        continue;
      }
      imports.push(spec);
      const m = `__sl_m${importIndex++}`;
      const vars: string[] = [];
      if (clause?.name) vars.push(`${clause.name.text} = ${m}.default`);
      const nb = clause?.namedBindings;
      if (nb && ts.isNamespaceImport(nb)) vars.push(`${nb.name.text} = ${m}`);
      if (nb && ts.isNamedImports(nb))
        for (const el of nb.elements) {
          importNames.push(el.name.text);
          declared.set(el.name.text, { isConst: true });
          if (!el.isTypeOnly) vars.push(`${el.name.text} = ${m}[${JSON.stringify((el.propertyName ?? el.name).text)}]`);
        }
      if (clause?.name) importNames.push(clause.name.text), declared.set(clause.name.text, { isConst: true });
      if (nb && ts.isNamespaceImport(nb)) importNames.push(nb.name.text), declared.set(nb.name.text, { isConst: true });
      const load = `const ${m} = await import(${JSON.stringify(resolveRuntimeSpecifier(spec))});`;
      runtimeImportEdits.push({ pos: start, remove: st.end - start, insert: load + (vars.length ? ` export var ${vars.join(", ")};` : "") + newlines });
    }
  }

  // Header: one line, so cell line numbers are header-line + 1 in both sources.
  const byCell = new Map<string, string[]>();
  for (const [name, e] of scope) {
    if (declared.has(name)) continue;
    let arr = byCell.get(e.cell);
    if (!arr) byCell.set(e.cell, (arr = []));
    arr.push(name);
  }
  let header = "";
  for (const [cell, names] of byCell) header += `import { ${names.join(", ")} } from "./${cell}"; `;
  header += "\n";
  const headerEdit: Edit = { pos: 0, remove: 0, insert: header };
  const checkedHeaderEdit: Edit = checkedHeader ? { pos: 0, remove: 0, insert: checkedHeader(byCell) + "\n" } : headerEdit;
  const footer = `\nexport { ${importNames.join(", ")} };\n`;
  const checked = new EditedText(code, [checkedHeaderEdit, ...exportEdits, { pos: code.length, remove: 0, insert: footer, cursorBefore: true }]);

  const runtimeEdits: Edit[] = [headerEdit, ...exportEdits, ...runtimeImportEdits];
  const last = sf.statements[sf.statements.length - 1];
  if (last && ts.isExpressionStatement(last)) {
    runtimeEdits.push({ pos: last.expression.getStart(sf), remove: 0, insert: "return (" });
    runtimeEdits.push({ pos: last.expression.end, remove: 0, insert: ")" });
  }
  const runtime = new EditedText(code, runtimeEdits);
  return { analysis: { declared, imports }, checked, runtime };
}

/**
 * A committed cell as a namespace of the checker's single scope module (see checker.ts): its
 * top-level declarations exported, the earlier cells' names it uses aliased in
 * (`import x = __cell_1.x`), and its imports hoisted to module level (namespaces cannot hold
 * ES imports) and re-exported as aliases. Only its declarations matter: the scope module is
 * never checked for errors, only consulted for the types later cells use.
 */
export function scopeChunk(
  code: string,
  cell: string,
  byCell: ReadonlyMap<string, string[]>,
): { imports: string; body: string; uses: Map<string, string[]>; globals: string } {
  const sf = parseCell(code);
  const edits: Edit[] = [];
  let imports = "";
  // A namespace cannot hold `declare global`: it moves to module level, where it augments the
  // global scope for every later cell (names of the cell's own types do not resolve there).
  let globals = "";
  let k = 0;
  for (const st of sf.statements) {
    const start = st.getStart(sf);
    if (ts.isImportDeclaration(st) && ts.isStringLiteral(st.moduleSpecifier)) {
      const spec = JSON.stringify(st.moduleSpecifier.text);
      const attrs = st.attributes ? " " + code.slice(st.attributes.getStart(sf), st.attributes.end) : "";
      const clause = st.importClause;
      const aliases: string[] = [];
      if (clause?.name) {
        const m = `__sl_${cell}_${k++}`;
        imports += `import ${m} from ${spec}${attrs};\n`;
        aliases.push(`export import ${clause.name.text} = ${m};`);
      }
      const nb = clause?.namedBindings;
      if (nb) {
        const m = `__sl_${cell}_${k++}`;
        imports += `import * as ${m} from ${spec}${attrs};\n`;
        if (ts.isNamespaceImport(nb)) aliases.push(`export import ${nb.name.text} = ${m};`);
        else for (const el of nb.elements) aliases.push(`export import ${el.name.text} = ${m}.${(el.propertyName ?? el.name).text};`);
      }
      if (!clause) imports += `import ${spec}${attrs};\n`;
      edits.push({ pos: start, remove: st.end - start, insert: aliases.join(" ") });
    } else if (isGlobalAugmentation(st)) {
      globals += code.slice(start, st.end) + "\n";
      edits.push({ pos: start, remove: st.end - start, insert: "" });
    } else if (
      (ts.isVariableStatement(st) ||
        ts.isFunctionDeclaration(st) ||
        ts.isClassDeclaration(st) ||
        ts.isInterfaceDeclaration(st) ||
        ts.isTypeAliasDeclaration(st) ||
        ts.isEnumDeclaration(st) ||
        (ts.isModuleDeclaration(st) && ts.isIdentifier(st.name))) &&
      !hasExport(st)
    )
      edits.push({ pos: start, remove: 0, insert: "export " });
  }
  // Only the names the cell's text mentions: aliasing every earlier name in every namespace
  // would make the scope module grow with the square of the cells.
  const words = new Set(code.match(/[\p{L}\p{N}_$]+/gu));
  const uses = new Map<string, string[]>();
  let head = "";
  for (const [from, names] of byCell)
    for (const n of names)
      if (words.has(n)) {
        head += `import ${n} = ${from}.${n}; `;
        uses.set(from, [...(uses.get(from) ?? []), n]);
      }
  const body = `export namespace ${cell} { ${head}\n${new EditedText(code, edits).text}\n}\n`;
  return { imports, body, uses, globals };
}
