// The devices every VM has: the legacy PC devices (UARTs, i8042, CMOS, debugcon) on the I/O-port bus, their
// interrupts as irqfds, and the reset eventfd the i8042 signals. The MMIO bus starts empty (PCI comes later).
import { close, EFD_CLOEXEC, EFD_NONBLOCK, eventfd } from "../../ffi/libc.ts";
import { Bus } from "../devices/bus.ts";
import { EventFdIrq, type IrqEvent } from "../devices/irq.ts";
import { createLegacyDevices, type LegacyDevices } from "../devices/legacy.ts";
import type { Vm } from "../hypervisor/vm.ts";
import type { VmConfig } from "./config.ts";

export interface PlatformDevices {
  readonly io: Bus;
  readonly mmio: Bus;
  readonly legacy: LegacyDevices;
  /** Non-blocking eventfd written when the guest asks for a CPU reset. */
  readonly resetEventFd: number;
  /** Closes the eventfds (after the vCPUs have stopped). */
  close(): void;
}

export function createPlatformDevices(
  config: VmConfig,
  vm: Vm,
  mem: { below4G: number; above4G: number },
): PlatformDevices {
  const eventFds: number[] = [];
  const irqs = new Map<number, IrqEvent>();
  const irqFor = (gsi: number): IrqEvent => {
    let irq = irqs.get(gsi);
    if (!irq) {
      const fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
      eventFds.push(fd);
      vm.registerIrqfd(fd, gsi);
      irq = new EventFdIrq(fd);
      irqs.set(gsi, irq);
    }
    return irq;
  };
  const resetEventFd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  eventFds.push(resetEventFd);

  const legacy = createLegacyDevices({
    serials: config.serials,
    irqFor,
    resetEventFd,
    memBelow4G: mem.below4G,
    memAbove4G: mem.above4G,
  });
  const io = new Bus("io");
  for (const d of legacy.io) io.insert(d.device, d.base, d.len);
  const mmio = new Bus("mmio");

  return {
    io,
    mmio,
    legacy,
    resetEventFd,
    close() {
      for (const fd of eventFds.splice(0)) close(fd);
    },
  };
}
