// Configuration mechanism #1 (ports 0xCF8..0xCFF) as the vCPU threads see it. CONFIG_ADDRESS (0xCF8) is a word in
// a SharedArrayBuffer that the PCI root's PciConfigIo on the main thread reads as well, so setting it never leaves
// the vCPU thread; a data-port (0xCFC) access goes on to the main thread only when configuration cycles are
// enabled and the addressed function exists (presence.ts). Everything else is answered here exactly as
// PciConfigIo would: all-ones for a read, nothing for a write. Linux's peer-bus scan reads function 0 of every
// slot of every bus the MCFG announces (63 buses x 32 slots, two port accesses each), nearly all of them absent.
import type { BusDevice } from "../bus.ts";
import { type DeviceShare, registerDeviceKind, reviveDevice } from "../shared_device.ts";
import {
  CONFIG_ADDRESS_ENABLE,
  CONFIG_ADDRESS_MASK,
  configAddressBus,
  configAddressDevice,
  configAddressFunction,
  dwordOf,
  extractBytes,
} from "./config_address.ts";
import { PciPresence } from "./presence.ts";

export const CONFIG_IO_PRESENCE_KIND = "pci-config-io-presence";

/** Offset of the data port (0xCFC) in the 0xCF8..0xCFF window. */
export const CONFIG_DATA_OFFSET = 4;
/** Offset of the reset control register (0xCF9), forwarded to the main thread. */
export const RESET_CONTROL_OFFSET = 1;

/** CONFIG_ADDRESS, shared between the main thread's PciConfigIo and the vCPU threads. */
export class ConfigAddressLatch {
  readonly #word: Int32Array;

  constructor(readonly buffer: SharedArrayBuffer = new SharedArrayBuffer(4)) {
    this.#word = new Int32Array(buffer);
  }

  get value(): number {
    return Atomics.load(this.#word, 0) >>> 0;
  }

  set(written: number): void {
    Atomics.store(this.#word, 0, written & CONFIG_ADDRESS_MASK);
  }
}

export interface ConfigIoPresenceState {
  readonly latch: SharedArrayBuffer;
  readonly presence: SharedArrayBuffer;
  /** The PciConfigIo itself, reached through the main-thread hub. */
  readonly inner: DeviceShare;
}

/** What the 0xCF8..0xCFF window does with an access; shared with PciConfigIo so the two cannot disagree. */
export const ConfigIoAccess = {
  /** Bytes of CONFIG_ADDRESS (offsets 0..3, a read; a dword write at 0 sets it). */
  Address: 0,
  /** A one-byte write at 0xCF9. */
  ResetControl: 1,
  /** A data-port access the root must perform. */
  Function: 2,
  /** Reads all-ones, writes are dropped: cycles disabled, an access past the data dword, other address writes. */
  Nothing: 3,
} as const;
export type ConfigIoAccess = (typeof ConfigIoAccess)[keyof typeof ConfigIoAccess];

export function classifyConfigIo(
  offset: number,
  len: number,
  write: boolean,
  address: number,
): ConfigIoAccess {
  if (offset < CONFIG_DATA_OFFSET) {
    if (!write) return ConfigIoAccess.Address;
    if (offset === 0 && len === 4) return ConfigIoAccess.Address;
    if (offset === RESET_CONTROL_OFFSET && len === 1) return ConfigIoAccess.ResetControl;
    return ConfigIoAccess.Nothing;
  }
  if (!(address & CONFIG_ADDRESS_ENABLE) || offset - CONFIG_DATA_OFFSET + len > 4)
    return ConfigIoAccess.Nothing;
  return ConfigIoAccess.Function;
}

/** The vCPU-side device for 0xCF8..0xCFF; `inner` is the main thread's PciConfigIo (through the hub). */
export class ConfigIoWithPresence implements BusDevice {
  readonly debugLabel: string;

  constructor(
    readonly inner: BusDevice,
    readonly latch: ConfigAddressLatch,
    readonly presence: PciPresence,
  ) {
    this.debugLabel = inner.debugLabel;
  }

  #present(address: number): boolean {
    return this.presence.has(
      configAddressBus(address),
      configAddressDevice(address),
      configAddressFunction(address),
    );
  }

  read(offset: number, data: Uint8Array): void {
    const address = this.latch.value;
    switch (classifyConfigIo(offset, data.length, false, address)) {
      case ConfigIoAccess.Address:
        extractBytes(address, offset, data);
        return;
      case ConfigIoAccess.Function:
        if (this.#present(address)) this.inner.read(offset, data);
        else data.fill(0xff);
        return;
      default:
        data.fill(0xff);
    }
  }

  write(offset: number, data: Uint8Array): void {
    const address = this.latch.value;
    switch (classifyConfigIo(offset, data.length, true, address)) {
      case ConfigIoAccess.Address:
        this.latch.set(dwordOf(data));
        return;
      case ConfigIoAccess.ResetControl:
        this.inner.write(offset, data);
        return;
      case ConfigIoAccess.Function:
        if (this.#present(address)) this.inner.write(offset, data);
        return;
      default:
    }
  }
}

registerDeviceKind(CONFIG_IO_PRESENCE_KIND, (raw) => {
  const s = raw as ConfigIoPresenceState;
  return new ConfigIoWithPresence(
    reviveDevice(s.inner),
    new ConfigAddressLatch(s.latch),
    new PciPresence(s.presence),
  );
});
