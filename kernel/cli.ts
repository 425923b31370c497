#!/usr/bin/env node
/**
 * The `sparselab` command.
 *   sparselab install [--user | --sys-prefix | --prefix P] [--name N]   register the kernelspec
 *   sparselab kernel --connection-file F                                what Jupyter launches
 *   sparselab run NOTEBOOK... [--out DIR]                                execute headless, write .ipynb + .html
 *   sparselab start                                                      run the tutorials (npm start)
 */
import { readConnectionFile } from "./protocol/connection.js";

function flag(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  if (i >= 0) return args[i + 1];
  const eq = args.find((a) => a.startsWith(`${name}=`));
  return eq?.slice(name.length + 1);
}

const USAGE = `usage:
  sparselab install [--user | --sys-prefix | --prefix P] [--name N]
  sparselab kernel --connection-file FILE
  sparselab run NOTEBOOK.ipynb... [--out DIR]
  sparselab start`;

async function main(argv: string[]): Promise<number> {
  const [cmd, ...args] = argv;
  switch (cmd) {
    case "kernel": {
      const file = flag(args, "--connection-file") ?? flag(args, "-f");
      if (!file) {
        process.stderr.write(`sparselab kernel: --connection-file is required\n${USAGE}\n`);
        return 2;
      }
      const { Kernel } = await import("./server/kernel.js");
      const k = new Kernel({ info: readConnectionFile(file) });
      await k.start();
      return -1;
    }
    case "install": {
      const { installKernelspec } = await import("./cli/install.js");
      const prefix = args.includes("--sys-prefix") ? "sys-prefix" : flag(args, "--prefix") ? { prefix: flag(args, "--prefix")! } : "user";
      const r = installKernelspec({ where: prefix, name: flag(args, "--name") });
      console.log(`installed kernelspec "${r.name}" in ${r.dir}`);
      if (r.listed !== undefined) console.log(r.listed ? "jupyter kernelspec list finds it" : "warning: jupyter kernelspec list does not show it (is JUPYTER_PATH set?)");
      return 0;
    }
    case "run": {
      const { runNotebooks } = await import("./cli/run-notebook.js");
      const files = args.filter((a, i) => !a.startsWith("--") && args[i - 1] !== "--out");
      if (files.length === 0) {
        process.stderr.write(`sparselab run: name at least one notebook\n${USAGE}\n`);
        return 2;
      }
      const results = await runNotebooks(files, { outDir: flag(args, "--out") ?? "out" });
      return results.every((r) => r.ok) ? 0 : 1;
    }
    case "start": {
      const { start } = await import("./cli/start.js");
      return start();
    }
    case undefined:
    case "help":
    case "--help":
    case "-h":
      console.log(USAGE);
      return cmd === undefined ? 2 : 0;
    default:
      process.stderr.write(`sparselab: unknown command "${cmd}"\n${USAGE}\n`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exitCode = code;
  },
  (e) => {
    process.stderr.write(`sparselab: ${(e as Error)?.stack ?? e}\n`);
    process.exit(1);
  },
);
