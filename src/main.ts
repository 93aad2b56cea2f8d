// The crosvm executable: `crosvm [--log-level SPEC] [--extended-status] <command> [<args>]`.
import { runCli } from "./cli/cli.ts";

process.exit(await runCli(process.argv.slice(2)));
