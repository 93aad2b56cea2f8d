// Serves the control socket's requests for one running VM (crosvm's handle_vm_request for the requests this VMM
// knows): Exit ends the VM, SuspendVcpus/ResumeVcpus pause and resume every vCPU with the guest's kvmclock frozen
// across the pause (guest_clock.ts says what is and is not frozen), SuspendVm/ResumeVm also put the devices to sleep,
// Powerbtn presses the ACPI power button, DiskCommand goes to the devices' diskResize hook, and BalloonCommand to
// the balloon device's control hook (refused when the VM has no balloon), HotPlugNetCommand to the PCI hot-plug
// slots (refused without --pci-hotplug-slots). Requests that change the run state run
// one at a time, in arrival order, whatever connection they came on.
import { logger } from "../base/log.ts";
import type { VmControlHandler } from "../vm_control/server.ts";
import {
  type BalloonControlCommand,
  errString,
  type NetControlCommand,
  OK,
  type VmRequest,
  type VmResponse,
} from "../vm_control/protocol.ts";

const log = logger("vmm::control");

/** What the controller drives; run.ts wires it to the VcpuThreads, the GuestClock and the PlatformDevices. */
export interface ControlledVm {
  /** Parks every vCPU; resolves once none runs guest code. */
  pauseVcpus(): Promise<void>;
  resumeVcpus(): void;
  /** Records the guest clock (after pauseVcpus) / restores it (before resumeVcpus). */
  freezeClock(): void;
  thawClock(): void;
  /** Device sleep for SuspendVm / wake for ResumeVm. */
  sleepDevices(): void;
  wakeDevices(): void;
  pressPowerButton(): void;
  diskResize(index: number, newSize: number): Promise<VmResponse>;
  /** BalloonCommand: Adjust or Stats, to the balloon device (absent: the VM has none). */
  balloon?(command: BalloonControlCommand): Promise<VmResponse>;
  /** HotPlugNetCommand: add (answers PciHotPlugResponse with the bus) or remove a NIC (absent: no hot-plug slots). */
  hotplugNet?(command: NetControlCommand): Promise<VmResponse>;
  /** Ends the VM with status 0 once the Exit response is on its way (the server's close() waits for it). */
  requestExit(): void;
}

export class VmController implements VmControlHandler {
  #vcpusPaused = false;
  #devicesAsleep = false;
  #serial: Promise<unknown> = Promise.resolve();

  constructor(readonly vm: ControlledVm) {}

  handle(request: VmRequest): Promise<VmResponse> {
    switch (request.kind) {
      case "Exit":
        log.info("control socket: Exit requested");
        this.vm.requestExit();
        return Promise.resolve(OK);
      case "Powerbtn":
        this.vm.pressPowerButton();
        return Promise.resolve(OK);
      case "SuspendVcpus":
        return this.#inOrder(() => this.#suspendVcpus());
      case "ResumeVcpus":
        return this.#inOrder(() => this.#resumeVcpus());
      case "SuspendVm":
        return this.#inOrder(async () => {
          await this.#suspendVcpus();
          if (!this.#devicesAsleep) {
            this.vm.sleepDevices();
            this.#devicesAsleep = true;
          }
        });
      case "ResumeVm":
        return this.#inOrder(async () => {
          if (this.#devicesAsleep) {
            this.vm.wakeDevices();
            this.#devicesAsleep = false;
          }
          await this.#resumeVcpus();
        });
      case "DiskCommand":
        return this.vm.diskResize(request.diskIndex, request.command.newSize);
      case "BalloonCommand":
        return this.vm.balloon?.(request.command) ?? Promise.resolve(errString("no balloon device"));
      case "HotPlugNetCommand":
        return (
          this.vm.hotplugNet?.(request.command) ??
          Promise.resolve(errString("the VM has no PCI hotplug slots (start it with --pci-hotplug-slots N)"))
        );
    }
  }

  /** Runs `op` after every run-state change requested before it; resolves to Ok, or ErrString if `op` throws. */
  #inOrder(op: () => Promise<void>): Promise<VmResponse> {
    const result = this.#serial.then(op).then(
      () => OK,
      (e: unknown) => errString(e instanceof Error ? e.message : String(e)),
    );
    this.#serial = result;
    return result;
  }

  async #suspendVcpus(): Promise<void> {
    if (this.#vcpusPaused) return;
    await this.vm.pauseVcpus();
    this.#vcpusPaused = true;
    this.vm.freezeClock();
    log.info("vCPUs suspended");
  }

  async #resumeVcpus(): Promise<void> {
    if (!this.#vcpusPaused) return;
    try {
      this.vm.thawClock();
    } finally {
      // The vCPUs run again even if the clock could not be restored (the error is reported to the client).
      this.vm.resumeVcpus();
      this.#vcpusPaused = false;
      log.info("vCPUs resumed");
    }
  }
}
