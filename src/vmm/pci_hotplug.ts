// PCI hot-plug of virtio-net (crosvm's --pci-hotplug-slots and `crosvm virtio-net add|remove`): N PCIe root ports
// on bus 0 (pcie_root_port.ts), port i (1..N) with secondary bus i. `addNet` starts a net device process on a TAP
// the VMM opens (the same kind, schema and sandbox as a --net device), puts its virtio-pci function at device 0 of
// a free port's secondary bus with BAR0 at the start of the port's memory window (where Linux's resource
// assignment puts it too), binds its queues' ioeventfds and its vectors' irqfds, and presses the slot's presence
// (the guest's pciehp then powers the slot on and probes the function). `remove` tells the guest the device left,
// waits for pciehp to power the slot off (the guest has unbound the driver and removed the function), then
// detaches the function and ends its device process.
import { PCI_BAR_COUNT } from "../devices/pci/config_space.ts";
import type { PcieRootPort } from "../devices/pci/pcie_root_port.ts";
import type { PciAddress, PciRoot } from "../devices/pci/pci_root.ts";
import type { VirtioDevice } from "../devices/virtio/virtio_device.ts";
import { VirtioPciDevice } from "../devices/virtio/virtio_pci_device.ts";
import type { Vm } from "../hypervisor/vm.ts";
import type { DeviceProcess, SandboxOptions } from "../jail/device_process/spawn.ts";
import type { GuestMemory } from "../vm_memory/guest_memory.ts";
import { logger } from "../base/log.ts";
import { watchDeviceEvents } from "./device_events.ts";
import type { GsiRoutes } from "./gsi_routes.ts";
import { OwnedFds } from "./owned_fds.ts";
import { planVirtioDevice, startVirtioDevices, type VmDeviceKind } from "./virtio_devices.ts";
import { bindMsixVectors } from "./virtio_wiring.ts";

const log = logger("vmm::pci_hotplug");

/** How long `remove` waits for the guest to power the slot off before detaching the device anyway. */
export const UNPLUG_GRACE_MS = 10_000;

export class PciHotplugError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "PciHotplugError";
  }
}

/** A device in a slot: what `remove` undoes. */
interface Plugged {
  readonly port: PcieRootPort;
  readonly address: PciAddress;
  readonly child: DeviceProcess;
  readonly fds: OwnedFds;
  readonly irqfds: readonly number[];
  readonly ioevents: readonly { fd: number; addr: number; width: number }[];
  readonly events: { stop(): void };
  readonly label: string;
  /** Set while `remove` waits for the guest: resolves when the guest powers the slot off. */
  poweredOff?: () => void;
}

export interface PciHotplugDeps {
  readonly vm: Vm;
  readonly memory: GuestMemory;
  readonly root: PciRoot;
  readonly routes: GsiRoutes;
  readonly netKind: VmDeviceKind;
  /** undefined with --disable-sandbox. */
  readonly sandbox: SandboxOptions | undefined;
  readonly onDeviceDied: (message: string) => void;
  readonly unplugGraceMs?: number;
}

export class PciHotplug {
  readonly #plugged = new Map<PcieRootPort, Plugged>();
  #serial: Promise<unknown> = Promise.resolve();
  #closed = false;

  constructor(
    readonly ports: readonly PcieRootPort[],
    readonly deps: PciHotplugDeps,
  ) {
    for (const port of ports) port.onPowerOff = () => this.#plugged.get(port)?.poweredOff?.();
  }

  /** `crosvm virtio-net add TAP`: plugs a NIC on `tapName` into a free slot; resolves to its bus number. */
  addNet(tapName: string): Promise<number> {
    return this.#inOrder(() => this.#addNet(tapName));
  }

  /** `crosvm virtio-net remove BUS`: unplugs the device on bus `bus` and ends its device process. */
  remove(bus: number): Promise<void> {
    return this.#inOrder(() => this.#remove(bus));
  }

  /** The devices plugged now (SuspendVm puts them to sleep with the others). */
  devices(): VirtioDevice[] {
    return [...this.#plugged.values()].map((p) => p.child.device);
  }

  /** Ends every hot-plugged device process (VM teardown, after the vCPUs stopped). */
  async close(): Promise<void> {
    this.#closed = true;
    const all = [...this.#plugged.values()];
    // A remove waiting for the guest stops waiting; the device is ended here.
    for (const p of all) p.poweredOff?.();
    this.#plugged.clear();
    await Promise.all(
      all.map(async (p) => {
        p.events.stop();
        await p.child.stop();
        p.fds.closeAll();
      }),
    );
  }

  #inOrder<T>(op: () => Promise<T>): Promise<T> {
    const result = this.#serial.then(op);
    this.#serial = result.catch(() => {});
    return result;
  }

  async #addNet(tapName: string): Promise<number> {
    if (this.#closed) throw new PciHotplugError("the VM is stopping");
    const port = this.ports.find((p) => !p.downstream);
    if (!port) throw new PciHotplugError(`no free PCI hotplug slot (all ${this.ports.length} are in use)`);
    const { vm, memory, root, routes } = this.deps;
    const fds = new OwnedFds();
    let child: DeviceProcess | undefined;
    let irqfds: readonly number[] = [];
    let added: PciAddress | undefined;
    const ioevents: { fd: number; addr: number; width: number }[] = [];
    try {
      const plan = planVirtioDevice(this.deps.netKind, { tapName, vqPairs: 1 }, port.secondaryBus, fds);
      [child] = await startVirtioDevices([plan], {
        memory,
        sandbox: this.deps.sandbox,
        onDeviceDied: this.deps.onDeviceDied,
      });
      const device = child!.device;
      const pci = new VirtioPciDevice(device, memory, { msixVectors: plan.irqfds.length });
      irqfds = plan.irqfds;
      bindMsixVectors(pci, plan.irqfds, routes, plan.label);
      placeBars(pci, port);
      const address = { bus: port.secondaryBus, device: 0, function: 0 };
      root.add(pci, address);
      added = address;
      const bar0 = pci.config.barAddress(0);
      for (const n of pci.notifyRegisters()) {
        const e = { fd: plan.queueEvents[n.queue]!, addr: bar0 + n.barOffset, width: n.width };
        vm.registerIoevent(e.fd, { space: "mmio", addr: e.addr }, e.width);
        ioevents.push(e);
      }
      const events = watchDeviceEvents([{ device, interrupt: pci.interrupt }]);
      this.#plugged.set(port, {
        port,
        address,
        child: child!,
        fds,
        irqfds,
        ioevents,
        events,
        label: plan.label,
      });
      port.plug(pci);
      log.info(`${plan.label} plugged into PCI bus ${port.secondaryBus}`);
      return port.secondaryBus;
    } catch (e) {
      this.#plugged.delete(port);
      if (added) root.remove(added);
      this.#unbind(ioevents, irqfds, "add");
      await child?.stop();
      fds.closeAll();
      throw e;
    }
  }

  async #remove(bus: number): Promise<void> {
    const p = [...this.#plugged.values()].find((x) => x.port.secondaryBus === bus);
    if (!p) throw new PciHotplugError(`no hot-plugged device on PCI bus ${bus}`);
    const grace = this.deps.unplugGraceMs ?? UNPLUG_GRACE_MS;
    const guestDone = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), grace);
      p.poweredOff = () => {
        clearTimeout(timer);
        resolve(true);
      };
      p.port.unplug();
    });
    if (this.#closed) throw new PciHotplugError(`the VM stopped before PCI bus ${bus} was unplugged`);
    if (!guestDone)
      log.warn(
        `${p.label}: the guest did not power PCI bus ${bus}'s slot off within ${grace} ms; removing it anyway`,
      );
    this.#detach(p);
    await p.child.stop();
    p.fds.closeAll();
    log.info(`${p.label} removed from PCI bus ${bus}`);
  }

  #detach(p: Plugged): void {
    this.#plugged.delete(p.port);
    p.port.detach();
    this.deps.root.remove(p.address);
    p.events.stop();
    this.#unbind(p.ioevents, p.irqfds, p.label);
  }

  /** Unregisters the queues' ioeventfds and drops the vectors' routes. */
  #unbind(
    ioevents: readonly { fd: number; addr: number; width: number }[],
    irqfds: readonly number[],
    label: string,
  ): void {
    for (const e of ioevents) {
      try {
        this.deps.vm.unregisterIoevent(e.fd, { space: "mmio", addr: e.addr }, e.width);
      } catch (err) {
        log.warn(`${label}: ioeventfd at 0x${e.addr.toString(16)}: ${(err as Error).message}`);
      }
    }
    for (const fd of irqfds) this.deps.routes.removeMsiVector(fd);
  }
}

/** Programs the device's memory BARs one after another from the start of the port's window, each aligned. */
function placeBars(pci: VirtioPciDevice, port: PcieRootPort): void {
  let next = port.windowBase;
  for (let i = 0; i < PCI_BAR_COUNT; i++) {
    const bar = pci.config.bar(i);
    if (!bar) continue;
    if (bar.kind === "io")
      throw new PciHotplugError(`${pci.debugLabel}: I/O BARs cannot go behind a root port`);
    const addr = Math.ceil(next / bar.size) * bar.size;
    if (addr + bar.size > port.windowBase + port.windowSize)
      throw new PciHotplugError(`${pci.debugLabel}: BAR ${i} does not fit the root port's window`);
    pci.config.setBarAddress(i, addr);
    next = addr + bar.size;
  }
}
