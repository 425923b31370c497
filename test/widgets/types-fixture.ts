// Compile-only checks of the public widget types (type-checked by types.test.ts; never run).
import * as w from "../../widgets/index.js";

export function checks(): void {
  const ui = w.interactive(
    ({ n, x, flag, mode, pick, k }) => {
      const a: number = n;
      const b: number = x;
      const c: boolean = flag;
      const d: "causal" | "sliding" = mode;
      const e: 1 | 2 = pick;
      const f: string = k.s;
      return a + b + Number(c) + d.length + e + f.length;
    },
    { n: [0, 10], x: 0.5, flag: true, mode: ["causal", "sliding"], pick: [["one", 1], ["two", 2]], k: w.fixed({ s: "q" }) },
  );
  const slider: w.IntSlider | w.FloatSlider = ui.controls.n;
  const box: w.Checkbox = ui.controls.flag;
  const dd: w.Dropdown<"causal" | "sliding"> = ui.controls.mode;
  const r: number | undefined = ui.result;
  void [slider, box, dd, r];

  const s = new w.IntSlider({ value: 1, description: "d" });
  const v: number = s.value;
  s.observe<number>("value", (ch) => {
    const n: number = ch.new;
    void n;
  });
  const range = new w.IntRangeSlider({ value: [1, 2] });
  const lo: number = range.value[0];
  const any = w.widget<{ count: number }>({ esm: "", state: { count: 1 } });
  const cnt: number = any.state.count;
  const got: number = any.get("count");
  any.set("count", 2);
  // @ts-expect-error wrong type for a typed anywidget key
  any.set("count", "two");
  // @ts-expect-error unknown option
  new w.IntSlider({ valeu: 1 });
  // @ts-expect-error value must be a number
  s.value = "3";
  const dd2 = new w.Dropdown<number>({ options: [["a", 1]], value: 1 });
  const dv: number | null = dd2.value;
  void [v, lo, cnt, got, dv];
}
