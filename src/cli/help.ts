// Help text in the layout of crosvm's (argh's) `--help`: a usage line, the description, then "Positional
// Arguments:", "Options:" and "Commands:" sections with names in a 20-column gutter and wrapped descriptions
// indented under them. The options of `crosvm` and `crosvm run` come from their option tables (a key=value
// option's "Valid keys" from its schema); the control commands' from their citty definitions (meta and args),
// whose own usage renderer has a different layout.
import type { ArgsDef, CommandMeta } from "citty";
import { GLOBAL_OPTIONS } from "./global_options.ts";
import { formsOf, type OptionTable } from "./option_table.ts";
import { KERNEL_POSITIONAL, RUN_OPTIONS } from "./run_options.ts";
import { keyHelp, type KeyValueSpec } from "./schema_shape.ts";

const GUTTER = 20;
const WIDTH = 80;

/** Word-wraps `text` to the width left after the gutter: the first line at `indent`, the others at `hanging`. */
function wrapWords(text: string, indent: string, hanging = indent): string[] {
  const lines: string[] = [];
  let current = "";
  let lead = indent;
  for (const word of text.trim().split(/\s+/)) {
    if (current !== "" && lead.length + current.length + 1 + word.length > WIDTH - GUTTER) {
      lines.push(lead + current);
      lead = hanging;
      current = word;
    } else current = current === "" ? word : `${current} ${word}`;
  }
  lines.push(lead + current);
  return lines;
}

/** Word-wraps one description line, keeping its own indentation. */
function wrap(line: string): string[] {
  return wrapWords(line, /^ */.exec(line)![0]);
}

/** The "Valid keys" of a key=value option, from its schema: "key=VALUE - description (default: D)". */
export function validKeysHelp(spec: KeyValueSpec, leaveOut: readonly string[] = []): string {
  const lines = ["Valid keys:"];
  for (const k of keyHelp(spec)) {
    if (leaveOut.includes(k.key)) continue;
    let text = `${k.key}=${k.placeholder} - ${k.description}`;
    if (k.key === spec.firstKey) text += " Can be specified without the key as the first argument.";
    if (k.fallback !== undefined) text += ` (default: ${k.fallback})`;
    lines.push(...wrapWords(text, "    ", "        "));
  }
  return lines.join("\n");
}

interface HelpEntry {
  readonly names: string;
  readonly help: string;
}

function section(title: string, entries: readonly HelpEntry[]): string {
  if (entries.length === 0) return "";
  const lines = [`${title}:`];
  for (const { names, help } of entries) {
    const [first = "", ...rest] = help.split("\n").flatMap(wrap);
    const head = `  ${names}`;
    if (head.length < GUTTER) lines.push(head.padEnd(GUTTER) + first);
    else lines.push(head, " ".repeat(GUTTER) + first);
    for (const line of rest) lines.push(" ".repeat(GUTTER) + line);
  }
  return `${lines.join("\n")}\n`;
}

const HELP_ENTRY: HelpEntry = { names: "--help, help", help: "display usage information" };

function render(usage: string, description: string, sections: readonly string[]): string {
  return [`Usage: ${usage}`, "", description, "", ...sections.filter((s) => s !== "")].join("\n");
}

/** The help entries of every name of an option table (deprecated forms included), sorted by name. */
function tableEntries(table: OptionTable): HelpEntry[] {
  return formsOf(table)
    .sort((a, b) => (a.long < b.long ? -1 : a.long > b.long ? 1 : 0))
    .map((form) => {
      const entry = table[form.key]!;
      let help = form.deprecated?.help ?? entry.help;
      if (entry.keyValues !== undefined)
        help += `\n${validKeysHelp(entry.keyValues, form.deprecated?.fixedKeys ?? [])}`;
      return { names: form.short === undefined ? `--${form.long}` : `-${form.short}, --${form.long}`, help };
    });
}

/** `[--switch] [--name <VALUE>]` for the usage line. */
function tableUsage(table: OptionTable): string[] {
  return Object.entries(table).map(([long, e]) =>
    e.argName === undefined ? `[--${long}]` : `[--${long} <${e.argName}>]`,
  );
}

/** `crosvm run --help`. */
export function renderRunHelp(): string {
  return render("crosvm run <options> KERNEL", "Start a new crosvm instance", [
    section("Positional Arguments", [
      { names: KERNEL_POSITIONAL.name.toLowerCase(), help: KERNEL_POSITIONAL.help },
    ]),
    section("Options", [...tableEntries(RUN_OPTIONS), HELP_ENTRY]),
  ]);
}

function argsEntries(args: ArgsDef): { positional: HelpEntry[]; options: HelpEntry[]; usage: string[] } {
  const positional: HelpEntry[] = [];
  const options: HelpEntry[] = [];
  const usage: string[] = [];
  for (const [name, def] of Object.entries(args)) {
    const help = def.description ?? "";
    if (def.type === "positional") {
      positional.push({ names: name, help });
      usage.push(def.required === false ? `[<${name}>]` : `<${name}>`);
    } else {
      const aliases = ("alias" in def && def.alias !== undefined ? [def.alias].flat() : []).map((a) =>
        a.length === 1 ? `-${a}` : `--${a}`,
      );
      options.push({ names: [...aliases, `--${name}`].join(", "), help });
      usage.push(def.type === "boolean" ? `[--${name}]` : `[--${name} <${def.valueHint ?? name}>]`);
    }
  }
  return { positional, options, usage };
}

type CommandList = readonly { name: string; meta: CommandMeta }[];

function commandsSection(commands: CommandList): string {
  return section(
    "Commands",
    commands.filter((c) => !c.meta.hidden).map((c) => ({ names: c.name, help: c.meta.description ?? "" })),
  );
}

/** `crosvm --help`: the global options and the commands. */
export function renderRootHelp(meta: CommandMeta, commands: CommandList): string {
  const usage = [...tableUsage(GLOBAL_OPTIONS), "<command>", "[<args>]"];
  return render(`${meta.name} ${usage.join(" ")}`, meta.description ?? "", [
    section("Options", [...tableEntries(GLOBAL_OPTIONS), HELP_ENTRY]),
    commandsSection(commands),
  ]);
}

/** `crosvm NAME --help` for a command defined with citty args (and a group's list of subcommands). */
export function renderCommandHelp(
  path: string,
  meta: CommandMeta,
  args: ArgsDef,
  commands: CommandList = [],
): string {
  const { positional, options, usage } = argsEntries(args);
  if (commands.length > 0) usage.push("<command>", "[<args>]");
  return render([path, ...usage].join(" "), meta.description ?? "", [
    section("Positional Arguments", positional),
    section("Options", [...options, HELP_ENTRY]),
    commandsSection(commands),
  ]);
}
