// The FADT reset register (ACPI 6.4 §4.8.4.6 and §5.2.9 RESET_REG/RESET_VALUE). The arch tables announce I/O port
// RESET_PORT (0xCF9, Intel's Reset Control Register) with RESET_VALUE 6 (SYS_RST | RST_CPU). The guest requests a
// reset by writing that byte; as crosvm (devices/src/pci/pci_root.rs PciConfigIo) the reset happens on a one-byte
// write with RST_CPU (bit 2) set, and signals the VMM's reset eventfd (the one the i8042 uses).
//
// 0xCF9 lies inside the PCI configuration mechanism #1 window 0xCF8..0xCFF, which crosvm's PciConfigIo owns whole;
// there the config device forwards a byte write at its offset 1 to writeResetControl(). Without a PCI config window
// on the I/O bus, ResetControl is a one-port BusDevice of its own at RESET_PORT.
import { eventfdWrite } from "../../../ffi/libc.ts";
import { RESET_PORT } from "../../arch/x86_64/layout.ts";
import { logger } from "../../base/log.ts";
import { registerDeviceKind, type DeviceShare, type ShareableDevice } from "../shared_device.ts";

const log = logger("devices::acpi");

export const RESET_CONTROL_KIND = "reset-control";
export { RESET_PORT };
export const RESET_CONTROL_LEN = 1;
/** RST_CPU: writing it set resets the processor (Intel ICH Reset Control Register). */
export const RESET_CONTROL_RST_CPU = 1 << 2;

/** Handles a guest write of `data` to the reset control port; signals `resetEventFd` on a reset request. */
export function writeResetControl(resetEventFd: number, data: Uint8Array): void {
  if (data.length !== 1 || (data[0]! & RESET_CONTROL_RST_CPU) === 0) return;
  log.info("the guest wrote the ACPI reset register");
  try {
    eventfdWrite(resetEventFd, 1n);
  } catch (e) {
    log.error(`failed to signal the reset event: ${(e as Error).message}`);
  }
}

/** Stateless apart from its eventfd, so it needs no mutex. Reads return 0. */
export class ResetControl implements ShareableDevice {
  readonly debugLabel = "ACPI reset register";

  constructor(readonly resetEventFd: number) {}

  static revive(state: unknown): ResetControl {
    const s = state as { resetEventFd?: unknown } | null;
    if (typeof s !== "object" || s === null || !Number.isInteger(s.resetEventFd))
      throw new Error(`device kind "${RESET_CONTROL_KIND}": malformed shared state`);
    return new ResetControl(s.resetEventFd as number);
  }

  share(): DeviceShare {
    return { kind: RESET_CONTROL_KIND, state: { resetEventFd: this.resetEventFd } };
  }

  read(_offset: number, data: Uint8Array): void {
    data.fill(0);
  }

  write(offset: number, data: Uint8Array): void {
    if (offset === 0) writeResetControl(this.resetEventFd, data);
  }
}

registerDeviceKind(RESET_CONTROL_KIND, (state) => ResetControl.revive(state));
