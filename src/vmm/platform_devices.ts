// The devices every VM has, one function per group: the legacy PC devices (UARTs, i8042, CMOS, debugcon) and the
// ACPI PM device on the I/O-port bus, with their interrupts and the eventfds through which they end the VM (reset,
// poweroff). The MMIO bus starts empty. PCI devices join as another group in createPlatformDevices (see the
// comment there); their control-socket hooks (disk resize, ...) are the methods at the end of PlatformDevices.
import { eventfdWrite } from "../../ffi/libc.ts";
import { SCI_IRQ } from "../arch/x86_64/layout.ts";
import { logger } from "../base/log.ts";
import { createAcpiPm, type AcpiPmDevices } from "../devices/acpi/acpi_pm.ts";
import { KvmIrqLine } from "../devices/acpi/irq_level.ts";
import { Bus } from "../devices/bus.ts";
import { EventFdIrq, type IrqEvent } from "../devices/irq.ts";
import { createLegacyDevices, type LegacyDevices } from "../devices/legacy.ts";
import type { Vm } from "../hypervisor/vm.ts";
import type { GuestMemory } from "../vm_memory/guest_memory.ts";
import {
  type BalloonControlCommand,
  errString,
  type NetControlCommand,
  OK,
  type VmResponse,
} from "../vm_control/protocol.ts";
import type { ExitState } from "../vm_control/exit_status.ts";
import type { VmConfig } from "./config.ts";
import type { MainThreadHub } from "./main_thread_hub.ts";
import { OwnedFds } from "./owned_fds.ts";
import { createPciDevices } from "./pci_devices.ts";
import { SerialInputGate } from "./serial_input_gate.ts";

const log = logger("vmm");

/** A non-blocking eventfd a device writes to end the VM, and how the VM then ends. */
export interface VmEndEvent {
  readonly fd: number;
  readonly state: ExitState;
  /** Logged when the VM ends this way, e.g. "the guest powered off". */
  readonly why: string;
}

export interface PlatformDevices {
  readonly io: Bus;
  readonly mmio: Bus;
  readonly legacy: LegacyDevices;
  readonly acpi: AcpiPmDevices;
  /** Non-blocking eventfd written when the guest asks for a reset (i8042 pulse, ACPI reset register). */
  readonly resetEventFd: number;
  /** Non-blocking eventfd written when the guest enters S5 (ACPI PM1_CNT SLP_EN with SLP_TYP = S5). */
  readonly poweroffEventFd: number;
  /**
   * Every eventfd through which the guest ends the VM; the run loop polls them all. A guest panic device
   * (pvpanic, on PCI) adds its eventfd here with state "GuestPanic".
   */
  readonly endEvents: readonly VmEndEvent[];
  /** SuspendVm: stops the devices' background work (serial input, virtio queues); the vCPUs are paused separately. */
  sleep(): void;
  /** ResumeVm: undoes sleep(). */
  wake(): void;
  /**
   * The control socket's DiskCommand Resize: `index` counts the --block devices from 0; the block device kind's
   * control hook (group "disk") carries it out.
   */
  diskResize(index: number, newSize: number): Promise<VmResponse>;
  /**
   * The control socket's BalloonCommand (`crosvm balloon`, `crosvm balloon_stats`): the balloon kind's control
   * hook (group "balloon") carries it out; without a balloon (--no-balloon) it is refused.
   */
  balloon(command: BalloonControlCommand): Promise<VmResponse>;
  /**
   * The control socket's HotPlugNetCommand (`crosvm virtio-net add|remove`): AddTap answers PciHotPlugResponse with
   * the bus; without --pci-hotplug-slots it is refused.
   */
  hotplugNet(command: NetControlCommand): Promise<VmResponse>;
  /** Resolves with the message when a device process dies; the VM then stops with a failure status. */
  readonly deviceFailure: Promise<string>;
  /** Ends the device processes and closes the eventfds (after the vCPUs have stopped). */
  close(): Promise<void>;
}

/** One irqfd per GSI, registered with KVM on first use: the edge interrupts of the legacy devices. */
function irqfdAllocator(vm: Vm, fds: OwnedFds): (gsi: number) => IrqEvent {
  const irqs = new Map<number, IrqEvent>();
  return (gsi) => {
    let irq = irqs.get(gsi);
    if (!irq) {
      const fd = fds.eventfd();
      vm.registerIrqfd(fd, gsi);
      irq = new EventFdIrq(fd);
      irqs.set(gsi, irq);
    }
    return irq;
  };
}

function addLegacyDevices(
  io: Bus,
  config: VmConfig,
  irqFor: (gsi: number) => IrqEvent,
  resetEventFd: number,
  mem: { below4G: number; above4G: number },
): LegacyDevices {
  const legacy = createLegacyDevices({
    serials: config.serials,
    irqFor,
    resetEventFd,
    memBelow4G: mem.below4G,
    memAbove4G: mem.above4G,
  });
  for (const d of legacy.io) io.insert(d.device, d.base, d.len);
  return legacy;
}

/**
 * The ACPI PM registers (PM1 event/control, GPE0) at the FADT's ports, with the SCI as a level line on the
 * in-kernel irqchip (KVM_IRQ_LINE; no irqfd on that GSI), and the FADT reset register.
 */
function addAcpiPm(io: Bus, vm: Vm, resetEventFd: number, poweroffEventFd: number): AcpiPmDevices {
  const acpi = createAcpiPm({
    sciGsi: SCI_IRQ,
    irqLevel: new KvmIrqLine(vm.fd, SCI_IRQ),
    poweroffEventFd,
    resetEventFd,
  });
  // The reset register (0xCF9) lies in the PCI config window 0xCF8..0xCFF, which forwards it (pci_devices.ts).
  for (const d of acpi.io) io.insert(d.device, d.base, d.len);
  return acpi;
}

export async function createPlatformDevices(
  config: VmConfig,
  vm: Vm,
  memory: GuestMemory,
  hub: MainThreadHub,
  mem: { below4G: number; above4G: number },
): Promise<PlatformDevices> {
  const fds = new OwnedFds();
  let legacy: LegacyDevices | undefined;
  try {
    const resetEventFd = fds.eventfd();
    const poweroffEventFd = fds.eventfd();
    const panicEventFd = fds.eventfd();
    const io = new Bus("io");
    const mmio = new Bus("mmio");
    legacy = addLegacyDevices(io, config, irqfdAllocator(vm, fds), resetEventFd, mem);
    const acpi = addAcpiPm(io, vm, resetEventFd, poweroffEventFd);
    const failure = Promise.withResolvers<string>();
    const pci = await createPciDevices({
      config,
      vm,
      memory,
      io,
      mmio,
      hub,
      resetEventFd,
      onDeviceDied: (message) => failure.resolve(message),
      onGuestPanic: () => eventfdWrite(panicEventFd, 1n),
    });
    const serialInput = new SerialInputGate(legacy.io);

    return {
      io,
      mmio,
      legacy,
      acpi,
      resetEventFd,
      poweroffEventFd,
      endEvents: [
        { fd: resetEventFd, state: "Reset", why: "the guest requested a reset" },
        { fd: poweroffEventFd, state: "Stop", why: "the guest powered off" },
        { fd: panicEventFd, state: "GuestPanic", why: "the guest panicked (pvpanic)" },
      ],
      deviceFailure: failure.promise,
      sleep() {
        serialInput.close();
        pci.sleep();
        log.debug("devices asleep: serial input held back, virtio queues stopped");
      },
      wake() {
        pci.wake();
        serialInput.open();
        log.debug("devices awake");
      },
      async diskResize(index, newSize) {
        try {
          await pci.control("disk", index, { type: "resize", bytes: newSize });
          return OK;
        } catch (e) {
          return errString((e as Error).message);
        }
      },
      async balloon(command) {
        try {
          if (!config.balloon) return errString("no balloon device (the VM runs with --no-balloon)");
          if (command.kind === "Adjust") {
            await pci.control("balloon", 0, {
              type: "balloon-adjust",
              bytes: command.numBytes,
              wait: command.waitForSuccess,
            });
            return OK;
          }
          const report = await pci.control("balloon", 0, { type: "balloon-stats" });
          if (!report) return errString("the balloon gave no statistics");
          return { kind: "BalloonStats", stats: report.stats, balloonActual: report.actualBytes };
        } catch (e) {
          return errString((e as Error).message);
        }
      },
      async hotplugNet(command) {
        try {
          if (!pci.hotplug)
            return errString("the VM has no PCI hotplug slots (start it with --pci-hotplug-slots N)");
          if (command.kind === "AddTap")
            return { kind: "PciHotPlugResponse", bus: await pci.hotplug.addNet(command.tapName) };
          await pci.hotplug.remove(command.bus);
          return OK;
        } catch (e) {
          return errString((e as Error).message);
        }
      },
      async close() {
        await pci.close();
        fds.closeAll();
      },
    };
  } catch (e) {
    legacy?.stop();
    fds.closeAll();
    throw e;
  }
}
