// Runs one control subcommand in a process of its own as src/main.ts runs a command: citty's runCommand, and
// the `run` result is the exit status. Usage: bun control_cli_runner.ts <command> [<args>...]
import { runCommand } from "citty";
import { controlCommands } from "../../../src/cli/control/index.ts";

const [name, ...rest] = process.argv.slice(2);
const command = controlCommands[name as keyof typeof controlCommands];
if (command === undefined) throw new Error(`control_cli_runner: unknown command ${name}`);
const { result } = await runCommand(command, { rawArgs: rest, data: { extendedStatus: false } });
process.exit(typeof result === "number" ? result : 0);
