// The part of the i8042 keyboard controller a PC guest needs to reboot (crosvm devices/src/i8042.rs): writing
// command 0xFE (pulse the CPU reset line) to the command port 0x64 requests a VM reset, which the device reports
// by signalling the VMM's reset eventfd. crosvm maps the device at 0x61..0x64 (len 4) when KVM's in-kernel PIT does
// not own the speaker port 0x61, else at 0x62..0x64; port 0x60 (data) is not decoded. Reads return what crosvm's do:
// 0x64 (status) reads 0; 0x61 (port B) reads 0x20, the PIT channel 2 output bit, so that Linux's
// pit_calibrate_tsc() sees the timer run (kvmtool does the same); other ports read 0.
import { eventfdWrite } from "../../ffi/libc.ts";
import { logger } from "../base/log.ts";
import { registerDeviceKind, type DeviceShare, type ShareableDevice } from "./shared_device.ts";

export const I8042_KIND = "i8042";
/** Where crosvm maps the device with KVM's in-kernel irqchip and PIT (x86_64/src/lib.rs setup_legacy_i8042_device). */
export const I8042_BASE = 0x61;
export const I8042_LEN = 4;
export const I8042_COMMAND_PORT = 0x64;
export const I8042_PORT_B = 0x61;
export const I8042_CMD_RESET = 0xfe;
const PORT_B_PIT_OUT2 = 0x20;

const log = logger("devices::i8042");

export interface I8042State {
  readonly resetEventFd: number;
  readonly base: number;
}

/** Stateless apart from its fds, so it needs no mutex. */
export class I8042 implements ShareableDevice {
  readonly debugLabel = "i8042";

  /** `base` is the I/O port the device's range starts at (offsets are relative to it). */
  constructor(
    readonly resetEventFd: number,
    readonly base = I8042_BASE,
  ) {}

  static revive(state: unknown): I8042 {
    const s = state as Partial<I8042State> | null;
    if (typeof s !== "object" || s === null || !Number.isInteger(s.resetEventFd) || !Number.isInteger(s.base))
      throw new Error(`device kind "${I8042_KIND}": malformed shared state`);
    return new I8042(s.resetEventFd!, s.base!);
  }

  share(): DeviceShare {
    const state: I8042State = { resetEventFd: this.resetEventFd, base: this.base };
    return { kind: I8042_KIND, state };
  }

  read(offset: number, data: Uint8Array): void {
    data.fill(0);
    if (data.length === 1 && this.base + offset === I8042_PORT_B) data[0] = PORT_B_PIT_OUT2;
  }

  write(offset: number, data: Uint8Array): void {
    if (data.length !== 1 || data[0] !== I8042_CMD_RESET || this.base + offset !== I8042_COMMAND_PORT) return;
    try {
      eventfdWrite(this.resetEventFd, 1n);
    } catch (e) {
      log.error(`failed to signal the reset event: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
}

registerDeviceKind(I8042_KIND, (state) => I8042.revive(state));
