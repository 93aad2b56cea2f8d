// One `crosvm run` argument list parsed as the command line parses it (parseRunConfig, without starting a VM),
// and the checks of what came out: a refusal is a CliError (ArgumentError or ConfigError, what the CLI prints as
// one line) whose message is one printable line beginning with the input it refuses and saying nothing untrue
// about it; an accepted configuration holds only safe integers.
import { escapeControlCharacters } from "../src/base/printable.ts";
import { ArgumentError, ConfigError } from "../src/cli/errors.ts";
import { formsOf } from "../src/cli/option_table.ts";
import { parseRunConfig } from "../src/cli/parse_run.ts";
import { KERNEL_POSITIONAL, RUN_OPTIONS } from "../src/cli/run_options.ts";
import { describeThrown, refusalMessageProblem } from "./refusal_check.ts";
import { unsafeNumbers } from "./safe_integers.ts";

const FORMS = formsOf(RUN_OPTIONS);
/** Keys a list's leading value belongs to ("/d.img,path=/e.img" gives path twice). */
const FIRST_KEYS = new Set(Object.values(RUN_OPTIONS).map((e) => e.keyValues?.firstKey));

/**
 * What a refusal may begin with: a token as given, the name or value of --name=value, an option's name as the
 * scanner shows it, the command, the positional KERNEL.
 */
export function argvNames(argv: readonly string[]): string[] {
  const names = ["crosvm run", KERNEL_POSITIONAL.name];
  for (const arg of argv) {
    names.push(arg);
    if (!arg.startsWith("-")) continue;
    const [name = "", ...value] = arg.split("=");
    names.push(name, value.join("="));
    const form = FORMS.find(
      (f) => `--${f.long}` === name || (f.short !== undefined && `-${f.short}` === name),
    );
    if (form) names.push(`--${form.long}`);
  }
  return names.filter((n) => n !== "").map(escapeControlCharacters);
}

/**
 * `key "X" is given more than once` is true only when X (or its alias, - for _) is in the input twice, unless X is
 * a first key, which a leading value stands for.
 */
function repeatedKeyProblem(message: string, input: string): string | undefined {
  const key = /key "([^"]+)" is given more than once/.exec(message)?.[1];
  if (key === undefined || FIRST_KEYS.has(key)) return undefined;
  const spelling = (s: string) => s.replaceAll("_", "-");
  return spelling(input).split(spelling(key)).length > 2
    ? undefined
    : `says key "${key}" is repeated, it is not`;
}

export interface RunParseCase {
  readonly argv: readonly string[];
  /** Everything the user gave (the arguments and the files' text), where an echoed word may come from. */
  readonly input: string;
  /** What the refusal's message may begin with. */
  readonly names: readonly string[];
}

export type RunParseOutcome =
  | { readonly outcome: "accepted" | "help" }
  | { readonly outcome: "refused"; readonly message: string }
  | { readonly finding: string };

export function checkRunParse(c: RunParseCase): RunParseOutcome {
  let parsed;
  try {
    parsed = parseRunConfig(c.argv, { extendedStatus: false });
  } catch (e) {
    if (!(e instanceof ArgumentError || e instanceof ConfigError))
      return { finding: `threw ${describeThrown(e)}` };
    const problem =
      refusalMessageProblem(e.message, c.input, Math.max(...c.names.map((n) => n.length))) ??
      repeatedKeyProblem(e.message, c.input) ??
      (c.names.some((n) => e.message.startsWith(n)) ? undefined : "does not begin with the input it refuses");
    return problem === undefined
      ? { outcome: "refused", message: e.message }
      : { finding: `${problem}: ${JSON.stringify(e.message.slice(0, 300))}` };
  }
  if (parsed.help) return { outcome: "help" };
  const unsafe = unsafeNumbers(parsed.config);
  return unsafe.length === 0 ? { outcome: "accepted" } : { finding: `accepted ${unsafe.join(", ")}` };
}
