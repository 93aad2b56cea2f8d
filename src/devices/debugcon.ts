// The Bochs/QEMU debug console (`--serial hardware=debugcon`): one I/O port, by default 0x402 (the port OVMF
// writes to). Each byte the guest writes goes to the serial output back end; a read returns 0xe9, the Bochs
// "port e9 hack" readback that lets a guest detect the device (crosvm devices/src/debugcon.rs).
import { SharedMutex } from "../base/shared_mutex.ts";
import {
  isSerialOutputShare,
  reviveSerialOutput,
  type SerialOutput,
  type SerialOutputShare,
} from "./serial/output.ts";
import { registerDeviceKind, type DeviceShare, type ShareableDevice } from "./shared_device.ts";

export const DEBUGCON_KIND = "debugcon";
export const DEBUGCON_DEFAULT_PORT = 0x402;
export const DEBUGCON_PORT_COUNT = 1;
export const BOCHS_DEBUGCON_READBACK = 0xe9;

export interface DebugconState {
  readonly label: string;
  readonly output: SerialOutputShare;
  readonly mutex: SharedArrayBuffer;
}

export class Debugcon implements ShareableDevice {
  /** Serializes output from several vCPUs (a line-buffered back end keeps its partial line in shared memory). */
  readonly mutex: SharedMutex;

  constructor(
    readonly output: SerialOutput,
    readonly debugLabel = "debugcon",
    mutex = new SharedMutex(),
  ) {
    this.mutex = mutex;
  }

  static revive(state: unknown): Debugcon {
    const s = state as Partial<DebugconState> | null;
    if (
      typeof s !== "object" ||
      s === null ||
      typeof s.label !== "string" ||
      !isSerialOutputShare(s.output) ||
      !(s.mutex instanceof SharedArrayBuffer)
    )
      throw new Error(`device kind "${DEBUGCON_KIND}": malformed shared state`);
    return new Debugcon(reviveSerialOutput(s.output), s.label, new SharedMutex(s.mutex));
  }

  share(): DeviceShare {
    const state: DebugconState = {
      label: this.debugLabel,
      output: this.output.share(),
      mutex: this.mutex.buffer,
    };
    return { kind: DEBUGCON_KIND, state };
  }

  read(_offset: number, data: Uint8Array): void {
    data.fill(0);
    if (data.length === 1) data[0] = BOCHS_DEBUGCON_READBACK;
  }

  write(_offset: number, data: Uint8Array): void {
    if (data.length === 1) this.output.write(data); // crosvm ignores wider accesses
  }
}

registerDeviceKind(DEBUGCON_KIND, (state) => Debugcon.revive(state));
