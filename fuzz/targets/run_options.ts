// Fuzz target: the command line of `crosvm run`. Each argument list holds a kernel (mostly) and a few options
// drawn from the option table with plausible values, written in any of crosvm's spellings (run_argv.ts), then
// mutated: values of the wrong type, huge, negative or NaN-like numbers, separators and control characters in
// values, repeated keys and options, unknown ones, missing values. The checks are run_parse_check.ts's, plus
// untouched built-in prototypes and bounded memory.
import { MemoryBound } from "../memory_bound.ts";
import { PrototypeWatch } from "../prototype_watch.ts";
import { type FuzzReport, Rng, recordFailure, tally } from "../random.ts";
import { mutateArgv, optionArgs } from "../run_argv.ts";
import { OPTION_KEYS, plausibleValue } from "../run_option_values.ts";
import { argvNames, checkRunParse } from "../run_parse_check.ts";

const KERNEL = "/vmlinuz";

function randomArgv(rng: Rng): string[] {
  const argv: string[] = [];
  for (let n = rng.int(5); n > 0; n--) {
    const key = rng.pick(OPTION_KEYS);
    argv.push(...optionArgs(rng, key, plausibleValue(rng, key)));
  }
  if (rng.chance(0.9)) argv.splice(rng.int(argv.length + 1), 0, KERNEL);
  let out = argv;
  for (let n = rng.chance(0.3) ? 0 : rng.int(3) + 1; n > 0; n--) out = mutateArgv(rng, out);
  return out;
}

export function fuzzRunOptions(iterations: number, seed: number): FuzzReport {
  const rng = new Rng(seed);
  const failures: string[] = [];
  const stats: Record<string, number> = { accepted: 0, refused: 0, help: 0 };
  const prototypes = new PrototypeWatch();
  const memory = new MemoryBound();
  for (let iteration = 0; iteration < iterations; iteration++) {
    const argv = randomArgv(rng);
    const result = checkRunParse({ argv, input: argv.join(" "), names: argvNames(argv) });
    if ("finding" in result)
      recordFailure(failures, `iteration ${iteration}: ${JSON.stringify(argv)}: ${result.finding}`);
    else tally(stats, result.outcome);
    const polluted = prototypes.check();
    if (polluted) recordFailure(failures, `iteration ${iteration}: ${JSON.stringify(argv)}: ${polluted}`);
    if (iteration % 5_000 === 0) {
      const over = memory.check(iteration);
      if (over) recordFailure(failures, over);
    }
  }
  return { target: "run_options", seed, iterations, failures, stats };
}
