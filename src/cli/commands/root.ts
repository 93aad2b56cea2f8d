// The top of the command tree: `crosvm [--extended-status] [--log-level SPEC] <command> [<args>]`
// (crosvm src/crosvm/cmdline.rs `CrosvmCmdlineArgs`); its options are GLOBAL_OPTIONS (../global_options.ts).
import { defineCommand } from "citty";
import pkg from "../../../package.json" with { type: "json" };
import { COMMANDS } from "./index.ts";

export const rootCommand = defineCommand({
  meta: { name: "crosvm", version: pkg.version, description: "crosvm" },
  subCommands: COMMANDS,
});
