// How a device model crosses from the main thread to the vCPU Workers. A shareable device describes itself as
// plain structured-cloneable data (numbers, strings, SharedArrayBuffers for its registers, fd numbers for its
// backends); each Worker revives its own instance over the same shared state. Device modules register their kind
// once at import time; `src/devices/registry.ts` imports them all so that a Worker knows every kind.
import { Bus, type BusDevice } from "./bus.ts";

export interface DeviceShare {
  readonly kind: string;
  readonly state: unknown;
}

export interface ShareableDevice extends BusDevice {
  share(): DeviceShare;
}

export type DeviceReviver = (state: unknown) => BusDevice;

const revivers = new Map<string, DeviceReviver>();

export function registerDeviceKind(kind: string, revive: DeviceReviver): void {
  revivers.set(kind, revive);
}

export function reviveDevice(share: DeviceShare): BusDevice {
  const revive = revivers.get(share.kind);
  if (!revive) throw new Error(`no device kind "${share.kind}" is registered in this thread`);
  return revive(share.state);
}

export interface SharedBusEntry {
  readonly base: number;
  readonly len: number;
  readonly device: DeviceShare;
}

function isShareable(d: BusDevice): d is ShareableDevice {
  return typeof (d as Partial<ShareableDevice>).share === "function";
}

/** Describes every device on `bus` for a Worker; refuses a device that cannot be shared. */
export function shareBus(bus: Bus): SharedBusEntry[] {
  return bus.ranges.map((r) => {
    if (!isShareable(r.device))
      throw new Error(`${bus.name} bus: ${r.device.debugLabel} cannot be shared with vCPU threads`);
    return { base: r.base, len: r.len, device: r.device.share() };
  });
}

/** Rebuilds a Bus in this thread. A device inserted at several ranges is revived once per range. */
export function reviveBus(name: string, entries: readonly SharedBusEntry[]): Bus {
  const bus = new Bus(name);
  for (const e of entries) bus.insert(reviveDevice(e.device), e.base, e.len);
  return bus;
}
