// `crosvm stop VM_SOCKET`: stops the VM listening on VM_SOCKET (VmRequest::Exit).
import { stopVm } from "../../vm_control/client.ts";
import { defineCrosvmCommand } from "../commands/command.ts";
import { runControl } from "./run_control.ts";

export const stop = defineCrosvmCommand({
  meta: { name: "stop", description: "Stops crosvm instances via their control sockets" },
  args: {
    VM_SOCKET: { type: "positional", description: "VM Socket path", required: true },
  },
  run: ({ args }) =>
    runControl("stop", async () => {
      await stopVm(args.VM_SOCKET);
    }),
});
