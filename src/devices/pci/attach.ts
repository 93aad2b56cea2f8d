// Puts a PCI device on the machine as firmware would: a bus/device/function on the root, BAR addresses from the
// allocator, each BAR's range on the MMIO bus. What the VMM still does with the result: bind ioeventfds to notify
// addresses and irqfds to MSI-X vectors (see VirtioPciDevice.notifyRegisters and MsixConfig.onVectorChange).
import type { Bus } from "../bus.ts";
import type { BarAllocator, PlacedBar } from "./bar_allocator.ts";
import { PciBarBusDevice, type PciDevice } from "./pci_device.ts";
import type { PciAddress, PciRoot } from "./pci_root.ts";

export interface AttachedPciDevice {
  readonly address: PciAddress;
  readonly bars: readonly PlacedBar[];
}

/** Adds `device` at `at` (or the next free slot on bus 0), places its BARs and maps them on `mmio`. */
export function attachPciDevice(
  root: PciRoot,
  allocator: BarAllocator,
  mmio: Bus,
  device: PciDevice,
  at?: PciAddress,
): AttachedPciDevice {
  const address = at ?? { bus: 0, device: root.nextFreeDevice(), function: 0 };
  root.add(device, address);
  const bars = allocator.placeDevice(device);
  for (const b of bars) mmio.insert(new PciBarBusDevice(device, b.index), b.addr, b.size);
  return { address, bars };
}
