// The PCI side of a VM as the VMM builds it (src/vmm/pci_slots.ts, pci_hotplug.ts) over guest RAM around the MMIO
// hole: the root with its host bridge, configuration mechanism #1 on the I/O bus and ECAM on the MMIO bus as the vCPU
// threads reach them (with their answers for absent functions, config_io_presence.ts, ecam_presence.ts); on bus 0
// a virtio-pci function, a function with 64-bit BARs and a PCIe root port; behind the port, on its secondary bus, a
// second virtio-pci function plugged with BAR0 at the start of the port's window. Every function sits behind a
// ConfigThrowWatch; the interrupts are watched (interrupt_watch.ts): INTx only while MSI-X is off, the port's MSI
// only while enabled.
import { FIRST_ADDR_PAST_32BITS } from "../../src/arch/x86_64/layout.ts";
import { Bus } from "../../src/devices/bus.ts";
import { type AttachedPciDevice, attachPciDevice } from "../../src/devices/pci/attach.ts";
import { BarAllocator } from "../../src/devices/pci/bar_allocator.ts";
import { ConfigIoWithPresence } from "../../src/devices/pci/config_io_presence.ts";
import { PciConfiguration } from "../../src/devices/pci/config_space.ts";
import { EcamWithPresence } from "../../src/devices/pci/ecam_presence.ts";
import type { PciDevice } from "../../src/devices/pci/pci_device.ts";
import {
  PCI_CONFIG_IO_BASE,
  PCI_CONFIG_IO_LEN,
  PCIE_ECAM_BASE,
  PCIE_ECAM_SIZE,
  type PciAddress,
  PciRoot,
} from "../../src/devices/pci/pci_root.ts";
import { PcieRootPort, ROOT_PORT_WINDOW_SIZE } from "../../src/devices/pci/pcie_root_port.ts";
import { VIRTIO_BAR, VIRTIO_BAR_SIZE, VirtioPciDevice } from "../../src/devices/virtio/virtio_pci_device.ts";
import { HIGH_RAM_SIZE, ramAroundHole } from "../guest_ram.ts";
import type { Observer } from "../observer.ts";
import type { Rng } from "../random.ts";
import { ConfigThrowWatch } from "./config_throw_watch.ts";
import { watchedLine, watchMsix } from "./interrupt_watch.ts";
import type { VirtioModel } from "./virtio_models.ts";
import { WatchedVirtioDevice } from "./watched_virtio_device.ts";

export interface PciFunction {
  readonly address: PciAddress;
  readonly device: PciDevice;
}

export interface VirtioFunction {
  readonly address: PciAddress;
  readonly pci: VirtioPciDevice;
  readonly model: WatchedVirtioDevice;
  /** Where the MMIO bus reaches BAR0 now, or undefined when nothing does. */
  bar0(): number | undefined;
}

/** BAR0 as a driver reaches it: where the bus routes it, else where the guest last put it. */
export const driverBar0 = (f: VirtioFunction): number => f.bar0() ?? f.pci.config.barAddress(VIRTIO_BAR);

/** A plug-in card's BARs: 64-bit ones below and above 4 GiB of size, and a 32-bit one between them. */
function sixtyFourBitFunction(): PciDevice {
  const config = new PciConfiguration({ vendorId: 0x1234, deviceId: 0x0064, classCode: 0xff, subclass: 0 });
  config.addBar({ index: 0, size: 0x10000, kind: "mem64", prefetchable: true });
  config.addBar({ index: 2, size: 0x1000, kind: "mem32" });
  config.addBar({ index: 3, size: 2 ** 33, kind: "mem64" });
  return {
    debugLabel: "64-bit BAR function",
    config,
    readConfigRegister: (reg) => config.readReg(reg),
    writeConfigRegister: (reg, offset, data) => config.writeReg(reg, offset, data),
    readBar: (_index, _offset, data) => data.fill(0),
    writeBar: () => {},
  };
}

export class PciMachine {
  readonly mem = ramAroundHole();
  readonly root = new PciRoot();
  readonly io = new Bus("io");
  readonly mmio = new Bus("mmio");
  readonly #allocator = new BarAllocator(FIRST_ADDR_PAST_32BITS + HIGH_RAM_SIZE);
  readonly port: PcieRootPort;
  readonly portAddress: PciAddress;
  readonly virtio: readonly VirtioFunction[];
  /** Every function on the root, the host bridge first. */
  readonly functions: readonly PciFunction[];

  constructor(
    rng: Rng,
    readonly observer: Observer,
    models: readonly VirtioModel[],
  ) {
    const configIo = this.root.configIo(() => observer.tally("resetControlWrites"));
    const presence = this.root.presence;
    this.io.insert(
      new ConfigIoWithPresence(configIo, configIo.latch, presence),
      PCI_CONFIG_IO_BASE,
      PCI_CONFIG_IO_LEN,
    );
    this.mmio.insert(new EcamWithPresence(this.root.ecam(), presence), PCIE_ECAM_BASE, PCIE_ECAM_SIZE);
    const onBus0 = this.#virtio(rng, rng.pick(models));
    const at = this.#attach(onBus0.pci);
    const bar0 = at.bars.find((b) => b.index === VIRTIO_BAR)!.addr;
    this.#attach(sixtyFourBitFunction());
    [this.port, this.portAddress] = this.#rootPort();
    const behindPort = this.#virtio(rng, rng.pick(models));
    this.#plug(behindPort.pci);
    const port = this.port;
    this.virtio = [
      { address: at.address, pci: onBus0.pci, model: onBus0.model, bar0: () => bar0 },
      {
        address: { bus: port.secondaryBus, device: 0, function: 0 },
        pci: behindPort.pci,
        model: behindPort.model,
        bar0: () => {
          const base = behindPort.pci.config.barAddress(VIRTIO_BAR);
          const inWindow =
            base >= port.windowBase && base + VIRTIO_BAR_SIZE <= port.windowBase + port.windowSize;
          return inWindow ? base : undefined;
        },
      },
    ];
    this.functions = this.root.devices.map(([address, device]) => ({ address, device }));
  }

  /** The virtio function whose BAR0 the MMIO bus routes `addr` to, and the offset in it. */
  virtioAt(addr: number): { f: VirtioFunction; offset: number } | undefined {
    for (const f of this.virtio) {
      const bar = f.bar0();
      if (bar !== undefined && addr >= bar && addr < bar + VIRTIO_BAR_SIZE) return { f, offset: addr - bar };
    }
    return undefined;
  }

  /** Whether MMIO address `addr` is in the ECAM window. */
  isConfigSpace(addr: number): boolean {
    return addr >= PCIE_ECAM_BASE && addr < PCIE_ECAM_BASE + PCIE_ECAM_SIZE;
  }

  /** Whether reading anywhere can change nothing: no ISR holds bits a read would clear. */
  readsRepeatable(): boolean {
    return this.virtio.every((f) => f.pci.isr.peek() === 0);
  }

  #attach(device: PciDevice): AttachedPciDevice {
    return attachPciDevice(
      this.root,
      this.#allocator,
      this.mmio,
      new ConfigThrowWatch(device, this.observer),
    );
  }

  #rootPort(): [PcieRootPort, PciAddress] {
    const windowBase = this.#allocator.allocateLow(ROOT_PORT_WINDOW_SIZE, "root port window");
    const port = new PcieRootPort({
      slotNumber: 1,
      secondaryBus: 1,
      windowBase,
      windowSize: ROOT_PORT_WINDOW_SIZE,
    });
    port.msi.irq = watchedLine("root port MSI", () => port.msi.enabled, "hotplugInterrupts", this.observer);
    port.onPowerOff = () => this.observer.tally("slotPoweredOff");
    const at = this.#attach(port);
    this.mmio.insert(port.window(), windowBase, ROOT_PORT_WINDOW_SIZE);
    return [port, at.address];
  }

  /** As pci_hotplug.ts plugs a function: on the port's secondary bus, BAR0 at the window's start. */
  #plug(device: PciDevice): void {
    const watched = new ConfigThrowWatch(device, this.observer);
    this.root.add(watched, { bus: this.port.secondaryBus, device: 0, function: 0 });
    device.config.setBarAddress(VIRTIO_BAR, this.port.windowBase);
    this.port.plug(watched);
  }

  #virtio(rng: Rng, model: VirtioModel) {
    const inner = model.make(rng);
    const watched = new WatchedVirtioDevice(inner, this.observer);
    const queues = inner.queueMaxSizes.length;
    const msixVectors = rng.pick([undefined, 1, 2, queues, 1 + rng.int(queues + 3)]);
    let pci: VirtioPciDevice | undefined;
    const intx = watchedLine(
      `${inner.debugLabel} INTx`,
      () => !pci!.msix.enabled,
      "intxInterrupts",
      this.observer,
    );
    pci = new VirtioPciDevice(watched, this.mem, { intx: rng.chance(0.7) ? intx : undefined, msixVectors });
    watched.msixTableSize = pci.msix.tableSize;
    watchMsix(pci.msix, inner.debugLabel, this.observer);
    return { pci, model: watched };
  }
}
