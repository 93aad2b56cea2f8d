// The PCI pvpanic device (QEMU docs/specs/pvpanic.rst, "PCI Interface"; crosvm devices/src/pci/pvpanic.rs), through
// which a guest reports a kernel panic (Linux drivers/misc/pvpanic/pvpanic-pci.c binds to 1b36:0011).
//
// - Configuration space as crosvm: Red Hat vendor 0x1b36, device 0x0011, revision 1, class 0xff ("other") subclass
//   0x80, subsystem ids 0xff; one 32-bit non-prefetchable memory BAR 0 of 16 bytes.
// - BAR 0 offset 0, byte read: the events the device supports, PANICKED (bit 0) | CRASH_LOADED (bit 1). Other reads
//   return 0.
// - BAR 0 offset 0, byte write: the guest reports events. A write with PANICKED or CRASH_LOADED set is recorded
//   (panicCode) and passed to onPanic in the thread that took the MMIO exit. As in crosvm, the report does not end
//   the VM: crosvm remembers it, and when the VM later ends (the guest's panic reboot or a stop) a PANICKED report
//   turns the exit into "guest panic" (CommandStatus::GuestPanic, 34). Writes of other bits, other sizes or offsets
//   are ignored.
import { GuestLog } from "../base/guest_log.ts";
import { logger } from "../base/log.ts";
import { PciConfiguration } from "./pci/config_space.ts";
import type { PciDevice } from "./pci/pci_device.ts";

const log = new GuestLog(logger("devices::pvpanic"), "pvpanic");

export const PCI_VENDOR_ID_REDHAT = 0x1b36;
export const PCI_DEVICE_ID_REDHAT_PVPANIC = 0x0011;
export const PVPANIC_REVISION = 1;
/** crosvm PciClassCode::Other / PciOtherSubclass::Other. */
export const PVPANIC_CLASS = 0xff;
export const PVPANIC_SUBCLASS = 0x80;
export const PVPANIC_BAR_INDEX = 0;
export const PVPANIC_BAR_SIZE = 0x10;

/** Event bits (QEMU include/hw/misc/pvpanic.h, Linux include/uapi/misc/pvpanic.h). */
export const PVPANIC_PANICKED = 1 << 0;
export const PVPANIC_CRASH_LOADED = 1 << 1;
export const PVPANIC_EVENTS = PVPANIC_PANICKED | PVPANIC_CRASH_LOADED;

export interface PvPanicOptions {
  /** Called with the event bits the guest wrote (PVPANIC_PANICKED and/or PVPANIC_CRASH_LOADED). Never throws out. */
  readonly onPanic?: (code: number) => void;
  /** The shared cell of another instance (pvpanic.reportCell), so that all threads see one report. */
  readonly reportCell?: SharedArrayBuffer;
}

export class PvPanic implements PciDevice {
  readonly debugLabel = "pvpanic";
  readonly config: PciConfiguration;
  /** The last event bits reported, or 0; in shared memory so that a report taken in a vCPU Worker is seen here. */
  readonly #report: Int32Array;
  readonly #onPanic: ((code: number) => void) | undefined;

  constructor(opts: PvPanicOptions = {}) {
    this.config = new PciConfiguration({
      vendorId: PCI_VENDOR_ID_REDHAT,
      deviceId: PCI_DEVICE_ID_REDHAT_PVPANIC,
      classCode: PVPANIC_CLASS,
      subclass: PVPANIC_SUBCLASS,
      revision: PVPANIC_REVISION,
      subsystemVendorId: 0xff,
      subsystemId: 0xff,
    });
    this.config.addBar({ index: PVPANIC_BAR_INDEX, size: PVPANIC_BAR_SIZE, kind: "mem32" });
    this.#report = new Int32Array(opts.reportCell ?? new SharedArrayBuffer(4), 0, 1);
    this.#onPanic = opts.onPanic;
  }

  /** The shared report cell, to build this device's copy in another thread. */
  get reportCell(): SharedArrayBuffer {
    return this.#report.buffer as SharedArrayBuffer;
  }

  /** The event bits the guest last reported (0 if none). */
  get panicCode(): number {
    return Atomics.load(this.#report, 0);
  }

  readConfigRegister(reg: number): number {
    return this.config.readReg(reg);
  }

  writeConfigRegister(reg: number, offset: number, data: Uint8Array): void {
    this.config.writeReg(reg, offset, data);
  }

  readBar(index: number, offset: number, data: Uint8Array): void {
    data.fill(0);
    if (index === PVPANIC_BAR_INDEX && offset === 0 && data.length === 1) data[0] = PVPANIC_EVENTS;
  }

  writeBar(index: number, offset: number, data: Uint8Array): void {
    if (index !== PVPANIC_BAR_INDEX || offset !== 0 || data.length !== 1) return;
    const code = data[0]! & PVPANIC_EVENTS;
    if (code === 0) return;
    Atomics.store(this.#report, 0, code);
    log.error(
      "panic report",
      code & PVPANIC_PANICKED
        ? "the guest reported a kernel panic"
        : "the guest reported a panic with a crash kernel loaded",
    );
    try {
      this.#onPanic?.(code);
    } catch (e) {
      log.error("panic handler", `the panic handler failed: ${(e as Error).message}`);
    }
  }
}
