/** Decodes a source map's `mappings` (base64 VLQ) into per-generated-line segments. */
const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const VALUE = new Map([...B64].map((c, i) => [c, i]));

/** One segment: generated column, source line, source column (all 0-based). */
export type Segment = [number, number, number];

export function decodeMappings(mappings: string): Segment[][] {
  const lines: Segment[][] = [];
  let srcLine = 0;
  let srcCol = 0;
  for (const lineText of mappings.split(";")) {
    const segs: Segment[] = [];
    let genCol = 0;
    for (const seg of lineText.split(",")) {
      if (!seg) continue;
      const vals: number[] = [];
      let shift = 0;
      let acc = 0;
      for (const ch of seg) {
        const d = VALUE.get(ch) ?? 0;
        acc += (d & 31) << shift;
        if (d & 32) shift += 5;
        else {
          vals.push(acc & 1 ? -(acc >>> 1) : acc >>> 1);
          acc = 0;
          shift = 0;
        }
      }
      genCol += vals[0] ?? 0;
      if (vals.length >= 4) {
        srcLine += vals[2];
        srcCol += vals[3];
        segs.push([genCol, srcLine, srcCol]);
      }
    }
    lines.push(segs);
  }
  return lines;
}

/** The segment at or before `col` on a line (or the line's first), or undefined. */
export function lookup(lines: Segment[][], line: number, col: number): Segment | undefined {
  const segs = lines[line];
  if (!segs || segs.length === 0) return undefined;
  let best = segs[0];
  for (const s of segs) {
    if (s[0] <= col) best = s;
    else break;
  }
  return best;
}
