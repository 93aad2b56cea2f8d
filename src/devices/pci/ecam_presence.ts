// The ECAM window as the vCPU threads see it: configuration reads of functions that do not exist answer all-ones
// right in the vCPU thread, and only accesses to present functions go on to the PCI root (which lives on the main
// thread, a costly hop). The port mechanism (0xCF8/0xCFC) has the same wrapper in config_io_presence.ts; both
// read the presence map (presence.ts) that the PCI root fills as devices are added.
import type { BusDevice } from "../bus.ts";
import {
  type DeviceShare,
  registerDeviceKind,
  reviveDevice,
  type ShareableDevice,
} from "../shared_device.ts";
import { ecamBus, ecamDevice, ecamFunction } from "./config_address.ts";
import { PciPresence } from "./presence.ts";

export { PciPresence } from "./presence.ts";

export const ECAM_PRESENCE_KIND = "pci-ecam-presence";

export interface EcamPresenceState {
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
    return this.#presence.has(ecamBus(offset), ecamDevice(offset), ecamFunction(offset));
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
    return ecamPresenceShare(this.#presence, this.inner.share());
  }
}

/** How a Worker revives an EcamWithPresence over `inner` (see PciEcam.vcpuShare). */
export function ecamPresenceShare(presence: PciPresence, inner: DeviceShare): DeviceShare {
  const state: EcamPresenceState = { presence: presence.buffer, inner };
  return { kind: ECAM_PRESENCE_KIND, state };
}

registerDeviceKind(ECAM_PRESENCE_KIND, (raw) => {
  const s = raw as EcamPresenceState;
  return new EcamWithPresence(reviveDevice(s.inner), new PciPresence(s.presence));
});
