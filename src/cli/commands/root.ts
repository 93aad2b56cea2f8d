// The top of the command tree: `crosvm [--extended-status] [--log-level SPEC] <command> [<args>]`
// (crosvm src/crosvm/cmdline.rs `CrosvmCmdlineArgs`).
import { defineCommand } from "citty";
import pkg from "../../../package.json" with { type: "json" };
import { COMMANDS } from "./index.ts";

export const ROOT_ARGS = {
  "extended-status": { type: "boolean", description: "use extended exit status" },
  "log-level": {
    type: "string",
    valueHint: "log-level",
    description: 'specify log level, eg "off", "error", "debug,disk=off", etc',
  },
} as const;

export const rootCommand = defineCommand({
  meta: { name: "crosvm", version: pkg.version, description: "crosvm" },
  args: ROOT_ARGS,
  subCommands: COMMANDS,
});
