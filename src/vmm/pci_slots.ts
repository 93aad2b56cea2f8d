// The PCI root (configuration mechanism #1 at 0xCF8 and ECAM at 0xF400_0000) and the placing of PCI functions on
// it: slot, BAR addresses from the allocator, BAR ranges on the MMIO bus. The root and the functions keep their
// registers on the main thread, so the vCPU Workers reach them through the MainThreadHub.
import { logger } from "../base/log.ts";
import { writeResetControl } from "../devices/acpi/reset_control.ts";
import type { Bus } from "../devices/bus.ts";
import { type AttachedPciDevice, attachPciDevice } from "../devices/pci/attach.ts";
import { BarAllocator } from "../devices/pci/bar_allocator.ts";
import { PciBarBusDevice, type PciDevice } from "../devices/pci/pci_device.ts";
import {
  PCI_CONFIG_IO_BASE,
  PCI_CONFIG_IO_LEN,
  PCIE_ECAM_BASE,
  PCIE_ECAM_SIZE,
  PciRoot,
} from "../devices/pci/pci_root.ts";
import { PcieRootPort, ROOT_PORT_WINDOW_SIZE } from "../devices/pci/pcie_root_port.ts";
import type { MainThreadHub } from "./main_thread_hub.ts";

const log = logger("vmm::pci");

export interface PciSlots {
  readonly root: PciRoot;
  /** Puts `device` in the next free slot of bus 0 and maps its BARs, reached through the hub. */
  attach(device: PciDevice): AttachedPciDevice;
  /**
   * Puts a hot-plug root port in the next free slot of bus 0: physical slot `slotNumber`, secondary bus
   * `slotNumber`, a memory window from the low MMIO area mapped (through the hub) whether a device is plugged or not.
   */
  addRootPort(slotNumber: number): PcieRootPort;
}

export function createPciSlots(o: {
  io: Bus;
  mmio: Bus;
  hub: MainThreadHub;
  /** Where guest RAM ends: BARs above 4 GiB go after it. */
  memoryEnd: number;
  /** The reset eventfd: a reset-control write (0xCF9, inside the config window) signals it. */
  resetEventFd: number;
}): PciSlots {
  const { io, mmio, hub } = o;
  const root = new PciRoot();
  // Linux sizes every BAR by writing all-ones and then restores it; a BAR that really moves is not followed.
  root.onBarMoved = (d, index, from, to) =>
    log.debug(`${d.debugLabel}: BAR${index} 0x${from.toString(16)} -> 0x${to.toString(16)} (not remapped)`);
  const configIo = root.configIo((data) => writeResetControl(o.resetEventFd, data));
  io.insert(hub.wrap(configIo), PCI_CONFIG_IO_BASE, PCI_CONFIG_IO_LEN);
  // Both configuration mechanisms answer absent functions in the vCPU thread (their vcpuShare, from the root's
  // presence map); Linux probes every slot of the 64 buses the MCFG announces at boot.
  mmio.insert(hub.wrap(root.ecam()), PCIE_ECAM_BASE, PCIE_ECAM_SIZE);
  const allocator = new BarAllocator(o.memoryEnd);
  return {
    root,
    attach(device) {
      // attachPciDevice maps the BARs for this thread; the vCPU Workers reach them through the hub instead.
      const at = attachPciDevice(root, allocator, mmio, device);
      for (const bar of at.bars) {
        mmio.remove(bar.addr);
        mmio.insert(hub.wrap(new PciBarBusDevice(device, bar.index)), bar.addr, bar.size);
      }
      return at;
    },
    addRootPort(slotNumber) {
      const windowBase = allocator.allocateLow(ROOT_PORT_WINDOW_SIZE, `pcie root port ${slotNumber} window`);
      const port = new PcieRootPort({
        slotNumber,
        secondaryBus: slotNumber,
        windowBase,
        windowSize: ROOT_PORT_WINDOW_SIZE,
      });
      attachPciDevice(root, allocator, mmio, port);
      mmio.insert(hub.wrap(port.window()), windowBase, ROOT_PORT_WINDOW_SIZE);
      return port;
    },
  };
}
