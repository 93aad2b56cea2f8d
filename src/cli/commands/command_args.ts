// The arguments of a command defined with citty args (the control commands, version), parsed strictly as
// crosvm's argh does. citty's own parser is lenient: it ignores unknown options (`crosvm suspend --fulll S`) and
// extra arguments (`crosvm version extra`), and reads a negative number as an option, so `crosvm balloon -5 S`
// would miss its SIZE. Here an unknown option, a value given to a switch, a switch given twice, a missing or an
// extra argument is one line (exit 35); an argument starting with "-" and a digit is a value while a positional
// argument is still expected, so a numeric argument can refuse it by name ("SIZE: expected a non-negative ...").
import type { ArgDef, ArgsDef, ParsedArgs } from "citty";
import { ArgumentError } from "../errors.ts";

const NEGATIVE_NUMBER = /^-[0-9]/;

function aliasesOf(def: ArgDef): string[] {
  return "alias" in def && def.alias !== undefined ? [def.alias].flat() : [];
}

function optionName(name: string): string {
  return name.length === 1 ? `-${name}` : `--${name}`;
}

/** `crosvm stop <VM_SOCKET>`, for messages. */
function usage(path: string, defs: readonly [string, ArgDef][]): string {
  const parts = defs.map(([name, def]) =>
    def.type === "positional"
      ? `<${name}>`
      : def.type === "boolean"
        ? `[--${name}]`
        : `[--${name} <${def.valueHint ?? name}>]`,
  );
  return [path, ...parts].join(" ");
}

/** Parses `raw`, the arguments after the command `path` ("crosvm suspend"), against `args`. */
export function parseCommandArgs(path: string, args: ArgsDef, raw: readonly string[]): ParsedArgs {
  const defs = Object.entries(args);
  const positionals = defs.filter(([, d]) => d.type === "positional").map(([name]) => name);
  const options = new Map<string, [string, ArgDef]>();
  for (const [name, def] of defs) {
    if (def.type === "positional") continue;
    for (const n of [name, ...aliasesOf(def)]) options.set(optionName(n), [name, def]);
  }
  const parsed: Record<string, unknown> = { _: [] as string[] };
  for (const [name, def] of defs)
    if (def.type !== "positional" && def.default !== undefined) parsed[name] = def.default;
  const values: string[] = [];
  const seen = new Set<string>();
  let optionsEnded = false;
  const fail = (what: string): never => {
    throw new ArgumentError(`${path}: ${what} (usage: ${usage(path, defs)})`);
  };

  for (let i = 0; i < raw.length; i++) {
    const arg = raw[i]!;
    const expectsValue = values.length < positionals.length;
    if (optionsEnded || !arg.startsWith("-") || arg === "-" || (expectsValue && NEGATIVE_NUMBER.test(arg))) {
      if (!expectsValue) fail(`unexpected argument "${arg}"`);
      values.push(arg);
      continue;
    }
    if (arg === "--") {
      optionsEnded = true;
      continue;
    }
    const eq = arg.indexOf("=");
    const given = eq < 0 ? arg : arg.slice(0, eq);
    const option = options.get(given);
    if (option === undefined) {
      const known = [...options.keys()].join(", ");
      return fail(
        `unknown option ${given}${known === "" ? " (it takes none)" : ` (expected one of: ${known})`}`,
      );
    }
    const [name, def] = option;
    if (seen.has(name)) fail(`--${name} is given more than once`);
    seen.add(name);
    if (def.type === "boolean") {
      if (eq >= 0) fail(`--${name} takes no value, got ${JSON.stringify(arg.slice(eq + 1))}`);
      parsed[name] = true;
    } else if (eq >= 0) parsed[name] = arg.slice(eq + 1);
    else if (i + 1 < raw.length) parsed[name] = raw[++i]!;
    else fail(`--${name} needs a value`);
  }

  const missing = positionals[values.length];
  // citty's wording, which scripts may already match.
  if (missing !== undefined) throw new ArgumentError(`Missing required positional argument: ${missing}`);
  positionals.forEach((name, index) => (parsed[name] = values[index]));
  parsed._ = values;
  return parsed as ParsedArgs;
}
