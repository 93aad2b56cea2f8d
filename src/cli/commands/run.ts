// `crosvm run [options] [KERNEL]`: starts a VM and exits with the status runVm returns.
import { logger } from "../../base/log.ts";
import { renderRunHelp } from "../help.ts";
import { parseRunConfig } from "../parse_run.ts";
import { defineCrosvmCommand } from "./command.ts";

export const runCommand = defineCrosvmCommand({
  meta: { name: "run", description: "Start a new crosvm instance" },
  renderHelp: renderRunHelp,
  ownSyntax: true,
  async run({ rawArgs, data }) {
    const parsed = parseRunConfig(rawArgs, data);
    if (parsed.help) return 0;
    for (const warning of parsed.warnings) logger("crosvm").warn(warning);
    // Loaded on demand: help, version and option errors do not load the VMM.
    const { launchVm } = await import("../launch.ts");
    return await launchVm(parsed.config);
  },
});
