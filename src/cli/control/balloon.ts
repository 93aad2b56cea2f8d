// `crosvm balloon [--wait] SIZE VM_SOCKET`: sets the balloon to SIZE bytes (BalloonControlCommand::Adjust).
import { balloonAdjust } from "../../vm_control/client.ts";
import { defineCrosvmCommand } from "../commands/command.ts";
import { parseUnsigned, runControl } from "./run_control.ts";

export const balloon = defineCrosvmCommand({
  meta: { name: "balloon", description: "Set balloon size of the crosvm instance to `SIZE` bytes" },
  args: {
    SIZE: { type: "positional", description: "amount of bytes", required: true },
    VM_SOCKET: { type: "positional", description: "VM Socket path", required: true },
    wait: { type: "boolean", description: "wait for response", default: false },
  },
  run: ({ args }) =>
    runControl("balloon", async () => {
      const numBytes = parseUnsigned(args.SIZE, "SIZE");
      await balloonAdjust(args.VM_SOCKET, numBytes, { wait: args.wait });
    }),
});
