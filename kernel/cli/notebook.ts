/** nbformat 4 types and helpers (the subset the runner reads and writes). */
export interface NbOutput {
  output_type: "stream" | "display_data" | "execute_result" | "error";
  [k: string]: any;
}

export interface NbCell {
  cell_type: "code" | "markdown" | "raw";
  source: string | string[];
  metadata: Record<string, any>;
  outputs?: NbOutput[];
  execution_count?: number | null;
  id?: string;
}

export interface Notebook {
  nbformat: number;
  nbformat_minor: number;
  metadata: Record<string, any>;
  cells: NbCell[];
}

export function cellSource(c: NbCell): string {
  return Array.isArray(c.source) ? c.source.join("") : c.source;
}

/** nbformat's multiline strings: split keeping line ends (what Jupyter writes). */
export function toLines(s: string): string[] {
  const parts = s.split(/(?<=\n)/);
  return parts.length === 1 && parts[0] === "" ? [] : parts;
}

export const KERNELSPEC_METADATA = {
  kernelspec: { name: "sparselab", display_name: "TypeScript (sparselab)", language: "typescript" },
  language_info: { name: "typescript", file_extension: ".ts", mimetype: "text/typescript", codemirror_mode: { name: "javascript", typescript: true } },
};
