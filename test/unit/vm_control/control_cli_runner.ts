// Runs one control subcommand in a process of its own as src/main.ts runs a command: through the command line's
// dispatch (runCli), whose result is the exit status. Usage: bun control_cli_runner.ts <command> [<args>...]
import { runCli } from "../../../src/cli/cli.ts";

process.exit(await runCli(process.argv.slice(2)));
