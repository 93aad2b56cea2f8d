// The one place the command line reaches into the VMM, so the rest of src/cli type-checks and tests on its own.
import type { VmConfig } from "../vmm/config.ts";
import { runVm } from "../vmm/run.ts";

/** Runs the VM; resolves to the process exit status. */
export function launchVm(config: VmConfig): Promise<number> {
  return runVm(config);
}
