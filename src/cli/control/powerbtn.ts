// `crosvm powerbtn VM_SOCKET`: presses the guest's power button (VmRequest::Powerbtn).
import { powerButton } from "../../vm_control/client.ts";
import { defineCrosvmCommand } from "../commands/command.ts";
import { runControl } from "./run_control.ts";

export const powerbtn = defineCrosvmCommand({
  meta: { name: "powerbtn", description: "Triggers a power button event in the crosvm instance" },
  args: {
    VM_SOCKET: { type: "positional", description: "VM Socket path", required: true },
  },
  run: ({ args }) =>
    runControl("powerbtn", async () => {
      await powerButton(args.VM_SOCKET);
    }),
});
