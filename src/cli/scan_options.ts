// The scanner of an option table (option_table.ts), with crosvm's (argh's) syntax. citty's parser (node:util
// parseArgs with strict: false) keeps only the last value of a repeated option, accepts unknown options silently and
// turns `--no-rng` into `rng=false`, so the syntax is scanned here: repeated options (--block a --block b, -p x
// -p y), short options (-m 512), `--opt=value` and `--opt value` (crosvm main.rs `prepare_argh_args` splits
// "-p=init=/bin/sh" at the first "="), `--` ending the options, -h/--help.
import { ArgumentError } from "./errors.ts";
import { emptyArgs, formsOf, type ArgsOf, type OptionForm, type OptionTable } from "./option_table.ts";

export interface Scanned<Table extends OptionTable> {
  readonly args: ArgsOf<Table>;
  /** Arguments that are not options, in order (with `stopAtPositional`, at most the first). */
  readonly positionals: string[];
  /** With `stopAtPositional`: the arguments after the first positional one. */
  readonly rest: string[];
  /** -h or --help was given. */
  readonly help: boolean;
  /** The warnings of the deprecated forms used, each once. */
  readonly warnings: string[];
}

export interface ScanContext {
  /** "crosvm run", for errors. */
  readonly command: string;
  /** Stop at the first argument that is not an option (the global options stop at the command's name). */
  readonly stopAtPositional: boolean;
}

function findForm(
  forms: readonly OptionForm[],
  arg: string,
  command: string,
): { form: OptionForm; inline?: string } {
  const eq = arg.indexOf("=");
  const name = eq < 0 ? arg : arg.slice(0, eq);
  const form = name.startsWith("--")
    ? forms.find((f) => `--${f.long}` === name)
    : forms.find((f) => f.short !== undefined && `-${f.short}` === name);
  if (form === undefined)
    throw new ArgumentError(`${name}: unknown option for ${command} (see ${command} --help)`);
  return eq < 0 ? { form } : { form, inline: arg.slice(eq + 1) };
}

/** Scans `argv` against `table`. Throws ArgumentError naming the option on bad input. */
export function scanOptions<Table extends OptionTable>(
  table: Table,
  argv: readonly string[],
  context: ScanContext,
): Scanned<Table> {
  const forms = formsOf(table);
  const args = emptyArgs(table) as Record<string, unknown>;
  const positionals: string[] = [];
  const warnings = new Set<string>();
  const seen = new Set<string>();
  let help = false;
  let optionsEnded = false;

  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (optionsEnded || arg === "-" || !arg.startsWith("-")) {
      positionals.push(arg);
      if (context.stopAtPositional)
        return {
          args: args as ArgsOf<Table>,
          positionals,
          rest: argv.slice(i + 1),
          help,
          warnings: [...warnings],
        };
      continue;
    }
    if (arg === "--") {
      optionsEnded = true;
      continue;
    }
    if (arg === "--help" || arg === "-h") {
      help = true;
      continue;
    }
    const { form, inline } = findForm(forms, arg, context.command);
    const entry = table[form.key]!;
    const display = `--${form.long}`;
    if (!form.repeatable && seen.has(form.long))
      throw new ArgumentError(`${display}: given more than once (it takes a single value)`);
    seen.add(form.long);
    let text = "";
    if (entry.argName === undefined) {
      if (inline !== undefined)
        throw new ArgumentError(`${display}: takes no value, got ${JSON.stringify(inline)}`);
    } else if (inline !== undefined) text = inline;
    else if (i + 1 < argv.length) text = argv[++i]!;
    else throw new ArgumentError(`${display}: missing value (expected ${entry.argName})`);
    let value = entry.decode(text, display);
    if (form.deprecated !== undefined) {
      value = form.deprecated.adjust(value);
      warnings.add(form.deprecated.warning);
    }
    const given = { value, from: display };
    if (entry.repeatable) (args[form.key] as unknown[]).push(given);
    else args[form.key] = given;
  }
  return { args: args as ArgsOf<Table>, positionals, rest: [], help, warnings: [...warnings] };
}
