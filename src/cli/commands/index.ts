// The subcommands of crosvm, in crosvm's order (sorted). A new command is one file defining it with
// defineCrosvmCommand plus one line here; the control-socket commands come from src/cli/control/.
import { controlCommands } from "../control/index.ts";
import type { CrosvmCommand } from "./command.ts";
import { createQcow2Command } from "./create_qcow2.ts";
import { runCommand } from "./run.ts";
import { versionCommand } from "./version.ts";

export const COMMANDS: Readonly<Record<string, CrosvmCommand>> = {
  balloon: controlCommands.balloon,
  balloon_stats: controlCommands.balloon_stats,
  create_qcow2: createQcow2Command,
  disk: controlCommands.disk,
  powerbtn: controlCommands.powerbtn,
  resume: controlCommands.resume,
  run: runCommand,
  stop: controlCommands.stop,
  suspend: controlCommands.suspend,
  version: versionCommand,
  "virtio-net": controlCommands["virtio-net"],
};
