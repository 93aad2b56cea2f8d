// The ECAM window as the vCPU threads see it: configuration reads of functions that do not exist answer all-ones
// right in the vCPU thread, and only accesses to present functions go on to the PCI root (which lives on the main
// thread, a costly hop). Linux probes every slot of every bus the MCFG table announces (64 buses, about 2,000
// reads at boot), nearly all of them empty. The presence map is one bit per bus/device/function in a
// SharedArrayBuffer, filled by the VMM as it places devices.
import type { BusDevice } from "../bus.ts";
import {
  type DeviceShare,
  registerDeviceKind,
  reviveDevice,
  type ShareableDevice,
} from "../shared_device.ts";
import type { PciAddress } from "./pci_root.ts";
import { PciEcam } from "./pci_root.ts";

export const ECAM_PRESENCE_KIND = "pci-ecam-presence";

/** One bit per (bus, device, function): 256 * 32 * 8 bits. */
const PRESENCE_BYTES = (256 * 32 * 8) / 8;

export class PciPresence {
  readonly #bits: Uint8Array;

  constructor(readonly buffer: SharedArrayBuffer = new SharedArrayBuffer(PRESENCE_BYTES)) {
    this.#bits = new Uint8Array(buffer);
  }

  static index(bus: number, dev: number, fn: number): number {
    return (bus << 8) | (dev << 3) | fn;
  }

  add(at: PciAddress): void {
    const i = PciPresence.index(at.bus, at.device, at.function);
    this.#bits[i >> 3]! |= 1 << (i & 7);
  }

  has(bus: number, dev: number, fn: number): boolean {
    const i = PciPresence.index(bus, dev, fn);
    return (this.#bits[i >> 3]! & (1 << (i & 7))) !== 0;
  }
}

interface EcamPresenceState {
  readonly presence: SharedArrayBuffer;
  readonly inner: DeviceShare;
}

/** Wraps the ECAM device (`inner`, usually reached through the main-thread hub) with the absent-function answer. */
export class EcamWithPresence implements ShareableDevice {
  readonly debugLabel: string;
  readonly #presence: PciPresence;

  constructor(
    readonly inner: BusDevice & { share?: () => DeviceShare },
    presence: PciPresence,
  ) {
    this.debugLabel = inner.debugLabel;
    this.#presence = presence;
  }

  #present(offset: number): boolean {
    const a = PciEcam.decode(offset);
    return this.#presence.has(a.bus, a.dev, a.fn);
  }

  read(offset: number, data: Uint8Array): void {
    if (this.#present(offset)) this.inner.read(offset, data);
    else data.fill(0xff);
  }

  write(offset: number, data: Uint8Array): void {
    if (this.#present(offset)) this.inner.write(offset, data);
  }

  share(): DeviceShare {
    if (!this.inner.share) throw new Error(`${this.debugLabel}: the wrapped ECAM device cannot be shared`);
    const state: EcamPresenceState = { presence: this.#presence.buffer, inner: this.inner.share() };
    return { kind: ECAM_PRESENCE_KIND, state };
  }
}

registerDeviceKind(ECAM_PRESENCE_KIND, (raw) => {
  const s = raw as EcamPresenceState;
  return new EcamWithPresence(reviveDevice(s.inner), new PciPresence(s.presence));
});
