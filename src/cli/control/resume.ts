// `crosvm resume [--full] VM_SOCKET`: resumes the vCPUs (ResumeVcpus), with --full the devices too (ResumeVm).
import { resumeVm } from "../../vm_control/client.ts";
import { defineCrosvmCommand } from "../commands/command.ts";
import { runControl } from "./run_control.ts";

export const resume = defineCrosvmCommand({
  meta: { name: "resume", description: "Resumes the crosvm instance. No-op if already running" },
  args: {
    VM_SOCKET: { type: "positional", description: "VM Socket path", required: true },
    full: { type: "boolean", description: "resume VM VCPUs and Devices", default: false },
  },
  run: ({ args }) =>
    runControl("resume", async () => {
      await resumeVm(args.VM_SOCKET, { full: args.full });
    }),
});
