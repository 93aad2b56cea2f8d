// `crosvm disk resize DISK_INDEX NEW_SIZE VM_SOCKET`: resizes a disk of a running VM (DiskControlCommand::Resize).
// `disk` is a group: the command line (cli.ts) follows it to `resize`, which gets the global options and whose
// result is the exit status.
import { resizeDisk } from "../../vm_control/client.ts";
import { defineCrosvmCommand } from "../commands/command.ts";
import { parseUnsigned, runControl } from "./run_control.ts";

const resize = defineCrosvmCommand({
  meta: { name: "resize", description: "resize disk" },
  args: {
    DISK_INDEX: { type: "positional", description: "disk index", required: true },
    NEW_SIZE: { type: "positional", description: "new disk size", required: true },
    VM_SOCKET: { type: "positional", description: "VM Socket path", required: true },
  },
  run: ({ args }) =>
    runControl("disk resize", async () => {
      const diskIndex = parseUnsigned(args.DISK_INDEX, "DISK_INDEX");
      const newSize = parseUnsigned(args.NEW_SIZE, "NEW_SIZE");
      await resizeDisk(args.VM_SOCKET, diskIndex, newSize);
    }),
});

export const disk = defineCrosvmCommand({
  meta: { name: "disk", description: "Manage attached virtual disk devices" },
  subCommands: { resize },
});
