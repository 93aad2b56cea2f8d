// The command line of `crosvm run`: the options of RUN_OPTIONS (scan_options.ts), at most one positional KERNEL,
// and -h/--help anywhere before `--`.
import { ArgumentError } from "./errors.ts";
import { KERNEL_POSITIONAL, RUN_OPTIONS, type RunArgs } from "./run_options.ts";
import { scanOptions } from "./scan_options.ts";

export type ScanResult = { help: true } | { help: false; args: RunArgs; warnings: string[] };

function wantsHelp(argv: readonly string[]): boolean {
  const end = argv.indexOf("--");
  return (end < 0 ? argv : argv.slice(0, end)).some((a) => a === "--help" || a === "-h");
}

/** Scans the arguments after `run`. Throws ArgumentError naming the option on bad input. */
export function scanRunArgv(argv: readonly string[]): ScanResult {
  if (wantsHelp(argv)) return { help: true };
  const { args, positionals, warnings } = scanOptions(RUN_OPTIONS, argv, {
    command: "crosvm run",
    stopAtPositional: false,
  });
  const [kernel, extra] = positionals;
  if (extra !== undefined)
    throw new ArgumentError(
      `crosvm run: unexpected argument ${JSON.stringify(extra)} (the ${KERNEL_POSITIONAL.name} is already ${kernel})`,
    );
  if (kernel !== undefined) {
    if (args.kernel !== undefined)
      throw new ArgumentError(`--kernel: given together with the positional KERNEL ${kernel}`);
    // The positional KERNEL is --kernel's value, checked the same way (an empty path is refused).
    const value = RUN_OPTIONS.kernel.decode(kernel, KERNEL_POSITIONAL.name);
    args.kernel = { value, from: KERNEL_POSITIONAL.name };
  }
  return { help: false, args, warnings };
}
