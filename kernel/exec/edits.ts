/**
 * Text edits with an offset map back to the original text, so that diagnostics, stack frames
 * and cursor positions in rewritten cell source point at the user's own line and column.
 */
export interface Edit {
  /** Offset in the original text. */
  pos: number;
  /** Characters of the original removed at pos. */
  remove: number;
  insert: string;
  /** A cursor exactly at pos stays before this insertion (a footer) instead of after it. */
  cursorBefore?: boolean;
}

export class EditedText {
  readonly text: string;
  private readonly edits: Edit[];

  constructor(readonly original: string, edits: Edit[]) {
    this.edits = [...edits].sort((a, b) => a.pos - b.pos);
    let out = "";
    let at = 0;
    for (const e of this.edits) {
      out += original.slice(at, e.pos) + e.insert;
      at = e.pos + e.remove;
    }
    this.text = out + original.slice(at);
  }

  /** Offset in the edited text -> offset in the original (inserted text maps to its edit's pos). */
  toOriginal(offset: number): number {
    let delta = 0;
    for (const e of this.edits) {
      const start = e.pos + delta;
      if (offset < start) break;
      if (offset < start + e.insert.length) return e.pos;
      delta += e.insert.length - e.remove;
    }
    return Math.max(0, Math.min(this.original.length, offset - delta));
  }

  /** Offset in the original -> offset in the edited text (after any insertion at that point). */
  toEdited(offset: number): number {
    let delta = 0;
    for (const e of this.edits) {
      if (e.pos > offset || (e.pos === offset && e.cursorBefore)) break;
      delta += e.insert.length - e.remove;
    }
    return offset + delta;
  }
}

/** Line starts of a text, for offset <-> (line, column) in UTF-16 units. */
export function lineStarts(text: string): number[] {
  const starts = [0];
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) === 10) starts.push(i + 1);
  return starts;
}

/** 0-based offset -> 1-based line and column. */
export function lineCol(starts: number[], offset: number): { line: number; column: number } {
  let lo = 0;
  let hi = starts.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (starts[mid] <= offset) lo = mid;
    else hi = mid - 1;
  }
  return { line: lo + 1, column: offset - starts[lo] + 1 };
}

/** Unicode code point index -> UTF-16 offset (Jupyter's cursor_pos counts code points). */
export function codePointToUtf16(text: string, cp: number): number {
  let i = 0;
  let n = 0;
  while (n < cp && i < text.length) {
    const c = text.charCodeAt(i);
    i += c >= 0xd800 && c <= 0xdbff && i + 1 < text.length ? 2 : 1;
    n++;
  }
  return i;
}

/** UTF-16 offset -> Unicode code point index. */
export function utf16ToCodePoint(text: string, offset: number): number {
  let n = 0;
  for (let i = 0; i < offset && i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) i++;
    n++;
  }
  return n;
}
