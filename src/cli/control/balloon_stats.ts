// `crosvm balloon_stats VM_SOCKET`: prints the balloon's statistics as crosvm does, the VmResponse as pretty JSON.
import { balloonStats } from "../../vm_control/client.ts";
import { responseToJson } from "../../vm_control/protocol.ts";
import { writeOut } from "../output.ts";
import { defineCrosvmCommand } from "../commands/command.ts";
import { runControl } from "./run_control.ts";

export const balloon_stats = defineCrosvmCommand({
  meta: { name: "balloon_stats", description: "Prints virtio balloon statistics for a `VM_SOCKET`" },
  args: {
    VM_SOCKET: { type: "positional", description: "VM Socket path", required: true },
  },
  run: ({ args }) =>
    runControl("balloon_stats", async () => {
      const { stats, balloonActual } = await balloonStats(args.VM_SOCKET);
      const json = responseToJson({ kind: "BalloonStats", stats, balloonActual });
      await writeOut(`${JSON.stringify(json, null, 2)}\n`);
    }),
});
