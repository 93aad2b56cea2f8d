// Entry of the command line: the global options, then one subcommand from the citty command tree.
// citty's runMain is not used: it prints its own usage layout, exits the process itself and parses the global
// options out of the whole argument list (so `crosvm run --log-level x` would set the global level). The global
// options (global_options.ts) are scanned here up to the command name, strictly; the command (followed through
// nested groups to the one that runs) gets only its own arguments, parsed strictly against its citty `args`
// (commands/command_args.ts) unless it scans them itself, and its `run` result is the exit status.
import type { ParsedArgs, Resolvable } from "citty";
import { LogLevelSpecError, setLogLevelSpec } from "../base/log.ts";
import { ArgumentError, CliError, ConfigError, EXIT_FAILURE } from "./errors.ts";
import { GLOBAL_OPTIONS, type GlobalArgs } from "./global_options.ts";
import { renderCommandHelp, renderRootHelp } from "./help.ts";
import { emptyArgs, mergeArgs } from "./option_table.ts";
import { writeErr, writeOut } from "./output.ts";
import type { CrosvmCommand } from "./commands/command.ts";
import { COMMANDS } from "./commands/index.ts";
import { parseCommandArgs } from "./commands/command_args.ts";
import { rootCommand } from "./commands/root.ts";
import type { GlobalOptions } from "./parse_run.ts";
import { scanOptions } from "./scan_options.ts";

interface TopLevel {
  args: GlobalArgs;
  help: boolean;
  command?: string;
  rest: string[];
}

/** The global options (GLOBAL_OPTIONS) up to the command's name; `help` before it asks for help. */
function scanTopLevel(argv: readonly string[]): TopLevel {
  let args = emptyArgs(GLOBAL_OPTIONS);
  let help = false;
  let rest = argv;
  for (;;) {
    const scan = scanOptions(GLOBAL_OPTIONS, rest, { command: "crosvm", stopAtPositional: true });
    args = mergeArgs(GLOBAL_OPTIONS, args, scan.args);
    help ||= scan.help;
    const [command] = scan.positionals;
    if (command !== "help")
      return { args, help, ...(command !== undefined ? { command } : {}), rest: scan.rest };
    help = true;
    rest = scan.rest;
  }
}

function wantsHelp(args: readonly string[]): boolean {
  const end = args.indexOf("--");
  return (end < 0 ? args : args.slice(0, end)).some((a) => a === "--help" || a === "-h");
}

export type CommandTable = Readonly<Record<string, CrosvmCommand>>;

export interface CliIo {
  out(text: string): Promise<void>;
  err(text: string): Promise<void>;
}

const PROCESS_IO: CliIo = { out: writeOut, err: writeErr };

/** citty lets meta and args be values, promises or functions returning either. */
async function resolve<T>(value: Resolvable<T> | undefined): Promise<T | undefined> {
  return typeof value === "function" ? await (value as () => T | Promise<T>)() : await value;
}

async function rootHelp(table: CommandTable): Promise<string> {
  const commands = await Promise.all(
    Object.entries(table).map(async ([name, c]) => ({ name, meta: (await resolve(c.meta)) ?? {} })),
  );
  return renderRootHelp((await resolve(rootCommand.meta)) ?? {}, commands);
}

async function subCommandsOf(command: CrosvmCommand): Promise<CommandTable> {
  return ((await resolve(command.subCommands)) ?? {}) as CommandTable;
}

async function commandHelp(path: string, command: CrosvmCommand): Promise<string> {
  const subs = await subCommandsOf(command);
  const commands = await Promise.all(
    Object.entries(subs).map(async ([name, c]) => ({ name, meta: (await resolve(c.meta)) ?? {} })),
  );
  return renderCommandHelp(
    path,
    (await resolve(command.meta)) ?? {},
    (await resolve(command.args)) ?? {},
    commands,
  );
}

/**
 * Follows nested commands (`crosvm disk resize ...`) to the one that runs, so it gets the global options in
 * `data` and its exit status is returned (citty's runCommand gives neither to a nested command) and its help is its
 * own.
 */
async function findLeaf(
  path: string,
  command: CrosvmCommand,
  rest: readonly string[],
  help: boolean,
): Promise<{ path: string; command: CrosvmCommand; rest: string[] }> {
  const subs = await subCommandsOf(command);
  const names = Object.keys(subs);
  if (names.length === 0) return { path, command, rest: [...rest] };
  const next = rest[0];
  if (next === undefined || next.startsWith("-")) {
    if (help || command.run !== undefined) return { path, command, rest: [...rest] };
    throw new ArgumentError(`${path}: a subcommand is required (one of: ${names.join(", ")})`);
  }
  const sub = Object.hasOwn(subs, next) ? subs[next] : undefined;
  if (sub === undefined)
    throw new ArgumentError(`${next}: unknown subcommand of ${path} (expected one of: ${names.join(", ")})`);
  return findLeaf(`${path} ${next}`, sub, rest.slice(1), help);
}

async function dispatch(argv: readonly string[], table: CommandTable, io: CliIo): Promise<number> {
  const top = scanTopLevel(argv);
  if (top.help && top.command === undefined) {
    await io.out(await rootHelp(table));
    return 0;
  }
  if (top.command === undefined) {
    await io.err(await rootHelp(table));
    throw new ArgumentError("crosvm: a command is required");
  }
  const logLevel = top.args["log-level"]?.value;
  if (logLevel !== undefined) {
    try {
      setLogLevelSpec(logLevel);
    } catch (e) {
      if (e instanceof LogLevelSpecError) throw new ConfigError(e.message);
      throw e;
    }
  }
  const command = Object.hasOwn(table, top.command) ? table[top.command] : undefined;
  if (command === undefined) throw new ArgumentError(`${top.command}: unknown command (see crosvm --help)`);
  const help = top.help || wantsHelp(top.rest);
  const leaf = await findLeaf(`crosvm ${top.command}`, command, top.rest, help);
  if (help) {
    await io.out(leaf.command.renderHelp?.() ?? (await commandHelp(leaf.path, leaf.command)));
    return 0;
  }
  const args = leaf.command.ownSyntax
    ? ({ _: leaf.rest } as unknown as ParsedArgs)
    : parseCommandArgs(leaf.path, (await resolve(leaf.command.args)) ?? {}, leaf.rest);
  const data: GlobalOptions = { extendedStatus: top.args["extended-status"]?.value ?? false };
  if (leaf.command.run === undefined) throw new ArgumentError(`${leaf.path}: a subcommand is required`);
  const result = await leaf.command.run({ rawArgs: leaf.rest, args, cmd: leaf.command, data });
  return typeof result === "number" ? result : 0;
}

/**
 * Runs crosvm with `argv` (without the executable) and returns the exit status: the command's own (run: the VM's),
 * 0 after help, 35 for arguments that do not parse, 1 for other errors, reported as one line on stderr.
 */
export async function runCli(
  argv: readonly string[],
  table: CommandTable = COMMANDS,
  io: CliIo = PROCESS_IO,
): Promise<number> {
  try {
    return await dispatch(argv, table, io);
  } catch (e) {
    if (e instanceof CliError) {
      await io.err(`${e.message}\n`);
      return e.exitCode;
    }
    await io.err(`crosvm: ${e instanceof Error ? e.message : String(e)}\n`);
    return EXIT_FAILURE;
  }
}
