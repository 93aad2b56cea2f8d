// The global options of crosvm, before the command (crosvm src/crosvm/cmdline.rs `CrosvmCmdlineArgs`):
// `crosvm [--extended-status] [--log-level SPEC] <command> [<args>]`. Scanned (cli.ts) and shown in `crosvm --help`
// (help.ts) from this table, as `crosvm run`'s options are from RUN_OPTIONS.
import { option, type ArgsOf } from "./option_table.ts";

export const GLOBAL_OPTIONS = {
  "extended-status": option.switch({ help: "use extended exit status", commandLineOnly: true }),
  "log-level": option.text({
    argName: "log-level",
    help: 'specify log level, eg "off", "error", "debug,disk=off", etc',
    commandLineOnly: true,
  }),
};

export type GlobalArgs = ArgsOf<typeof GLOBAL_OPTIONS>;
