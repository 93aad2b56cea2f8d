// `crosvm suspend [--full] VM_SOCKET`: pauses the vCPUs (SuspendVcpus), with --full the devices too (SuspendVm).
import { suspendVm } from "../../vm_control/client.ts";
import { defineCrosvmCommand } from "../commands/command.ts";
import { runControl } from "./run_control.ts";

export const suspend = defineCrosvmCommand({
  meta: { name: "suspend", description: "Suspends the crosvm instance" },
  args: {
    VM_SOCKET: { type: "positional", description: "VM Socket path", required: true },
    full: { type: "boolean", description: "suspend VM VCPUs and Devices", default: false },
  },
  run: ({ args }) =>
    runControl("suspend", async () => {
      await suspendVm(args.VM_SOCKET, { full: args.full });
    }),
});
