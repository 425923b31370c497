/** In-memory input history for history_request (tail, range, search). */
export interface HistoryEntry {
  session: number;
  line: number;
  input: string;
  output?: string;
}

export class History {
  private readonly entries: HistoryEntry[] = [];
  /** Keeps memory bounded in very long sessions. */
  constructor(private readonly max = 10_000, readonly session = 1) {}

  add(line: number, input: string): void {
    this.entries.push({ session: this.session, line, input });
    if (this.entries.length > this.max) this.entries.shift();
  }

  setOutput(line: number, output: string): void {
    const e = this.entries.findLast((x) => x.line === line);
    if (e) e.output = output;
  }

  /** history_reply content for a history_request's content. */
  query(c: { hist_access_type?: string; n?: number; output?: boolean; start?: number; stop?: number; pattern?: string; unique?: boolean }): unknown[] {
    let sel: HistoryEntry[];
    if (c.hist_access_type === "range") {
      const start = c.start ?? 0;
      const stop = c.stop ?? Infinity;
      sel = this.entries.filter((e) => e.line >= start && e.line < stop);
    } else if (c.hist_access_type === "search") {
      const glob = c.pattern ?? "*";
      const re = new RegExp(`^${glob.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".")}$`, "s");
      sel = this.entries.filter((e) => re.test(e.input));
      if (c.unique) {
        const seen = new Set<string>();
        sel = sel.filter((e) => (seen.has(e.input) ? false : (seen.add(e.input), true)));
      }
      if (c.n) sel = sel.slice(-c.n);
    } else {
      sel = this.entries.slice(-(c.n ?? 10));
    }
    return sel.map((e) => (c.output ? [e.session, e.line, [e.input, e.output ?? null]] : [e.session, e.line, e.input]));
  }

  clear(): void {
    this.entries.length = 0;
  }
}
