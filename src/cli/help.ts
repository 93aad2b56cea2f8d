// Help text in the layout of crosvm's (argh's) `--help`: a usage line, the description, then "Positional
// Arguments:", "Options:" and "Commands:" sections with names in a 20-column gutter and wrapped descriptions
// indented under them. citty's own usage renderer has a different layout, so the command tree's citty
// definitions (meta and args) are rendered here.
import type { ArgsDef, CommandMeta } from "citty";
import { KERNEL_POSITIONAL, RUN_OPTIONS } from "./run_options.ts";

const GUTTER = 20;
const WIDTH = 80;

/** Word-wraps one description line to the width left after the gutter, keeping its own indentation. */
function wrap(line: string): string[] {
  const indent = /^ */.exec(line)![0];
  const lines: string[] = [];
  let current = "";
  for (const word of line.trim().split(/\s+/)) {
    if (current !== "" && indent.length + current.length + 1 + word.length > WIDTH - GUTTER) {
      lines.push(indent + current);
      current = word;
    } else current = current === "" ? word : `${current} ${word}`;
  }
  lines.push(indent + current);
  return lines;
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

/** `crosvm run --help`. */
export function renderRunHelp(): string {
  const options = RUN_OPTIONS.map((o) => ({
    names: o.short === undefined ? `--${o.long}` : `-${o.short}, --${o.long}`,
    help: o.help,
  }));
  return render("crosvm run <options> KERNEL", "Start a new crosvm instance", [
    section("Positional Arguments", [
      { names: KERNEL_POSITIONAL.name.toLowerCase(), help: KERNEL_POSITIONAL.help },
    ]),
    section("Options", [...options, HELP_ENTRY]),
  ]);
}

function optionEntries(args: ArgsDef): { positional: HelpEntry[]; options: HelpEntry[]; usage: string[] } {
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

/** `crosvm --help`: the global options and the commands. */
export function renderRootHelp(
  meta: CommandMeta,
  args: ArgsDef,
  commands: readonly { name: string; meta: CommandMeta }[],
): string {
  const { options, usage } = optionEntries(args);
  const visible = commands.filter((c) => !c.meta.hidden);
  return render(`${meta.name} ${[...usage, "<command>", "[<args>]"].join(" ")}`, meta.description ?? "", [
    section("Options", [...options, HELP_ENTRY]),
    section(
      "Commands",
      visible.map((c) => ({ names: c.name, help: c.meta.description ?? "" })),
    ),
  ]);
}

/** `crosvm NAME --help` for a command defined with citty args. */
export function renderCommandHelp(
  path: string,
  meta: CommandMeta,
  args: ArgsDef,
  commands: readonly { name: string; meta: CommandMeta }[] = [],
): string {
  const { positional, options, usage } = optionEntries(args);
  if (commands.length > 0) usage.push("<command>", "[<args>]");
  return render([path, ...usage].join(" "), meta.description ?? "", [
    section("Positional Arguments", positional),
    section("Options", [...options, HELP_ENTRY]),
    section(
      "Commands",
      commands.filter((c) => !c.meta.hidden).map((c) => ({ names: c.name, help: c.meta.description ?? "" })),
    ),
  ]);
}
