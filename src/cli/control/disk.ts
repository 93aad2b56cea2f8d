// `crosvm disk resize DISK_INDEX NEW_SIZE VM_SOCKET`: resizes a disk of a running VM (DiskControlCommand::Resize).
// `disk` dispatches its subcommand itself rather than through citty's subCommands, because citty drops a
// subcommand's return value and the exit status travels in it.
import { runCommand } from "citty";
import type { CommandMeta } from "citty";
import { resizeDisk } from "../../vm_control/client.ts";
import { CommandStatus } from "../../vm_control/exit_status.ts";
import { defineCrosvmCommand } from "../commands/command.ts";
import { renderCommandHelp } from "../help.ts";
import { writeErr } from "../output.ts";
import { noExtraArguments, parseUnsigned, runControl } from "./run_control.ts";

const resize = defineCrosvmCommand({
  meta: { name: "resize", description: "resize disk" },
  args: {
    DISK_INDEX: { type: "positional", description: "disk index", required: true },
    NEW_SIZE: { type: "positional", description: "new disk size", required: true },
    VM_SOCKET: { type: "positional", description: "VM Socket path", required: true },
  },
  run: ({ args }) =>
    runControl("disk resize", async () => {
      noExtraArguments(args._, ["DISK_INDEX", "NEW_SIZE", "VM_SOCKET"]);
      const diskIndex = parseUnsigned(args.DISK_INDEX, "DISK_INDEX");
      const newSize = parseUnsigned(args.NEW_SIZE, "NEW_SIZE");
      await resizeDisk(args.VM_SOCKET, diskIndex, newSize);
    }),
});

const DISK_SUBCOMMANDS = { resize };
const DISK_META: CommandMeta = { name: "disk", description: "Manage attached virtual disk devices" };

export const disk = defineCrosvmCommand({
  meta: DISK_META,
  args: {},
  renderHelp: () =>
    renderCommandHelp(
      "crosvm disk",
      DISK_META,
      {},
      Object.entries(DISK_SUBCOMMANDS).map(([name, c]) => ({ name, meta: c.meta as CommandMeta })),
    ),
  async run({ rawArgs }) {
    const [name, ...rest] = rawArgs;
    const sub = name === undefined ? undefined : DISK_SUBCOMMANDS[name as keyof typeof DISK_SUBCOMMANDS];
    if (sub === undefined) {
      const expected = Object.keys(DISK_SUBCOMMANDS).join(", ");
      await writeErr(
        `crosvm disk: ${name === undefined ? "a command is required" : `unknown command "${name}"`} (expected ${expected})\n`,
      );
      return CommandStatus.InvalidArgs;
    }
    const { result } = await runCommand(sub, { rawArgs: rest });
    return typeof result === "number" ? result : CommandStatus.SuccessOrVmStop;
  },
});
