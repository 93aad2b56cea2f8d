// The argument scanner of `crosvm run`. citty's parser (node:util parseArgs with strict: false) keeps only the
// last value of a repeated option, accepts unknown options silently and turns `--no-rng` into `rng=false`, so
// crosvm's syntax is scanned here instead: repeated options (--block a --block b, -p x -p y), short options
// (-m 512), `--opt=value` and `--opt value` (crosvm main.rs `prepare_argh_args` splits "-p=init=/bin/sh" at the
// first "="), at most one positional KERNEL, `--` ending the options, and -h/--help anywhere before it.
import { ArgumentError } from "./errors.ts";
import { KERNEL_POSITIONAL, RUN_OPTIONS, type RunOption, type RunScan } from "./run_options.ts";
import { emptyRunArgs } from "./run_args.ts";

export type ScanResult = { help: true } | ({ help: false } & RunScan);

function findOption(arg: string): { option: RunOption; inline?: string } {
  const eq = arg.indexOf("=");
  const name = eq < 0 ? arg : arg.slice(0, eq);
  const inline = eq < 0 ? undefined : arg.slice(eq + 1);
  const option = name.startsWith("--")
    ? RUN_OPTIONS.find((o) => `--${o.long}` === name)
    : RUN_OPTIONS.find((o) => o.short !== undefined && `-${o.short}` === name);
  if (option === undefined)
    throw new ArgumentError(`${name}: unknown option for crosvm run (see crosvm run --help)`);
  return inline === undefined ? { option } : { option, inline };
}

function wantsHelp(argv: readonly string[]): boolean {
  const end = argv.indexOf("--");
  return (end < 0 ? argv : argv.slice(0, end)).some((a) => a === "--help" || a === "-h");
}

/** Scans the arguments after `run`. Throws ArgumentError naming the option on bad input. */
export function scanRunArgv(argv: readonly string[]): ScanResult {
  if (wantsHelp(argv)) return { help: true };
  const scan: RunScan = { args: emptyRunArgs(), cfgFiles: [], deprecatedDiskFlags: false };
  const seen = new Set<string>();
  let positional: string | undefined;
  let optionsEnded = false;

  const takePositional = (arg: string) => {
    if (positional !== undefined)
      throw new ArgumentError(
        `${arg}: unexpected argument (the ${KERNEL_POSITIONAL.name} is already ${positional})`,
      );
    positional = arg;
  };

  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (optionsEnded || arg === "-" || !arg.startsWith("-")) {
      takePositional(arg);
      continue;
    }
    if (arg === "--") {
      optionsEnded = true;
      continue;
    }
    const { option, inline } = findOption(arg);
    const display = `--${option.long}`;
    if (!option.repeatable && seen.has(option.long))
      throw new ArgumentError(`${display}: given more than once (it takes a single value)`);
    seen.add(option.long);
    if (option.argName === undefined) {
      if (inline !== undefined)
        throw new ArgumentError(`${display}: takes no value, got ${JSON.stringify(inline)}`);
      option.apply(scan, "");
      continue;
    }
    let value = inline;
    if (value === undefined) {
      if (i + 1 >= argv.length)
        throw new ArgumentError(`${display}: missing value (expected ${option.argName})`);
      value = argv[++i]!;
    }
    option.apply(scan, value);
  }

  if (positional !== undefined) {
    if (scan.args.kernel !== undefined)
      throw new ArgumentError(`--kernel: given together with the positional KERNEL ${positional}`);
    scan.args.kernel = positional;
  }
  return { help: false, ...scan };
}
