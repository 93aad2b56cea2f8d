// The shape of a crosvm subcommand: a citty command whose `run` returns the process exit status (nothing means 0),
// with the global options in `context.data`. A command with its own argument syntax (run) renders its own help.
// Adding one (crosvm stop VM_SOCKET) is a file like commands/version.ts:
//   export const stopCommand = defineCrosvmCommand({
//     meta: { name: "stop", description: "Stops crosvm instances via their control sockets." },
//     args: { VM_SOCKET: { type: "positional", description: "VM Socket path" } },
//     async run({ args }) { ... return 0; },
//   });
// plus its line in commands/index.ts. A group (crosvm disk resize) has `subCommands` and no `run`. The command line
// (cli.ts) parses a command's arguments strictly against its `args` (command_args.ts: unknown options and extra
// arguments are refused), unless the command scans its raw arguments itself (`ownSyntax`, as `crosvm run`).
import type { ArgsDef, CommandContext, CommandDef } from "citty";
import type { GlobalOptions } from "../parse_run.ts";

export type CrosvmCommand = CommandDef<ArgsDef> & {
  /** Help text instead of the one rendered from `meta` and `args`. */
  readonly renderHelp?: () => string;
  /** `run` reads `rawArgs` itself; `args` holds only `_`, every argument. */
  readonly ownSyntax?: boolean;
};

export type CrosvmContext = CommandContext<ArgsDef> & { data: GlobalOptions };

/** Defines a subcommand; `run` gets the global options as `context.data`. */
export function defineCrosvmCommand<const T extends ArgsDef>(
  def: Omit<CommandDef<T>, "run"> & {
    /** Absent for a group of subcommands (crosvm disk resize). */
    run?: (context: CommandContext<T> & { data: GlobalOptions }) => number | void | Promise<number | void>;
    renderHelp?: () => string;
    ownSyntax?: boolean;
  },
): CrosvmCommand {
  return def as unknown as CrosvmCommand;
}
