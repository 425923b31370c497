/**
 * Turns a cell into two module texts:
 *  - the checked source (type-checked as virtual file cell_N.ts): a one-line header importing
 *    every earlier cell's names the cell uses not itself declare, `export` added to each
 *    top-level declaration, and a footer re-exporting the cell's own imports, so later cells
 *    can import everything this one declares;
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
      (ts.isModuleDeclaration(st) && ts.isIdentifier(st.name))
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
  const footer = `\nexport { ${importNames.join(", ")} };\n`;
  const checked = new EditedText(code, [headerEdit, ...exportEdits, { pos: code.length, remove: 0, insert: footer, cursorBefore: true }]);

  const runtimeEdits: Edit[] = [headerEdit, ...exportEdits, ...runtimeImportEdits];
  const last = sf.statements[sf.statements.length - 1];
  if (last && ts.isExpressionStatement(last)) {
    runtimeEdits.push({ pos: last.expression.getStart(sf), remove: 0, insert: "return (" });
    runtimeEdits.push({ pos: last.expression.end, remove: 0, insert: ")" });
  }
  const runtime = new EditedText(code, runtimeEdits);
  return { analysis: { declared, imports }, checked, runtime };
}
