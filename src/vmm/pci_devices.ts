// The PCI side of the machine: the root (pci_slots.ts), one virtio-pci function per virtio device in crosvm's
// order (virtio_devices.ts: block devices as given, then virtio-console ports, then rng, then the balloon), then
// pvpanic. Each virtio device model runs in its own device process (sandboxed unless --disable-sandbox); this side
// keeps the virtio-pci transport registers, wires the data path around itself (virtio_wiring.ts), drains the
// events the devices raise through the transport (device_events.ts) and routes control-socket requests to the device kinds'
// control hooks (device_control.ts). The transports and the root are reached from the vCPU Workers through the
// MainThreadHub.
import { logger } from "../base/log.ts";
import type { Bus } from "../devices/bus.ts";
import { formatPciAddress } from "../devices/pci/pci_root.ts";
import { PvPanic } from "../devices/pvpanic.ts";
import { EventFdIrq } from "../devices/irq.ts";
import type { PcieRootPort } from "../devices/pci/pcie_root_port.ts";
import type { DeviceControlReply, DeviceControlRequest } from "../devices/virtio/kind.ts";
import type { VirtioDevice } from "../devices/virtio/virtio_device.ts";
import { highMmioStart, MIB } from "../arch/x86_64/layout.ts";
import { physAddrBits } from "../arch/x86_64/cpuid.ts";
import type { Vm } from "../hypervisor/vm.ts";
import type { DeviceProcess } from "../jail/device_process/spawn.ts";
import type { GuestMemory } from "../vm_memory/guest_memory.ts";
import type { VmConfig } from "./config.ts";
import { DeviceControlGroups } from "./device_control.ts";
import { DeviceMemoryArea } from "./device_memory.ts";
import { watchDeviceEvents } from "./device_events.ts";
import { GsiRoutes } from "./gsi_routes.ts";
import type { MainThreadHub } from "./main_thread_hub.ts";
import { OwnedFds } from "./owned_fds.ts";
import { createPciSlots, type PciSlots } from "./pci_slots.ts";
import { PciHotplug } from "./pci_hotplug.ts";
import {
  attachVirtioDevices,
  planVirtioDevices,
  startVirtioDevices,
  type VmDeviceKind,
  vmDeviceKinds,
} from "./virtio_devices.ts";

const log = logger("vmm::pci");

export interface PciDevices {
  /**
   * A control-socket request to device `index` of `group` (a device kind's control group: "disk" for block
   * devices, in --block order); rejects with a one-line reason.
   */
  control(group: string, index: number, request: DeviceControlRequest): Promise<DeviceControlReply>;
  /** With --pci-hotplug-slots: adds and removes hot-plugged NICs (crosvm virtio-net add/remove). */
  readonly hotplug?: PciHotplug;
  /**
   * SuspendVm (`crosvm suspend --full`): every virtio device, hot-plugged ones included, stops processing its
   * queues and its backend (VirtioDevice.sleep: vhost devices stop their kernel rings); notifications that arrive
   * meanwhile are handled by wake(). A device that does not answer is logged; the others still sleep.
   */
  sleep(): void;
  /** ResumeVm: undoes sleep(). */
  wake(): void;
  /** Ends every device process (after the vCPUs stopped). */
  close(): Promise<void>;
}

/** Calls `step` on each device; one failure (a device process that does not answer) is logged, the rest go on. */
export function eachDevice(
  devices: readonly VirtioDevice[],
  what: string,
  step: (d: VirtioDevice) => void,
): void {
  for (const d of devices) {
    try {
      step(d);
    } catch (e) {
      log.warn(`${d.debugLabel}: ${what} failed: ${(e as Error).message}`);
    }
  }
}

export async function createPciDevices(opts: {
  config: VmConfig;
  vm: Vm;
  memory: GuestMemory;
  io: Bus;
  mmio: Bus;
  hub: MainThreadHub;
  /** The reset eventfd: a reset-control write (0xCF9, inside the config window) signals it. */
  resetEventFd: number;
  /** Called once when a device process dies; the VM must stop with this message and a failure status. */
  onDeviceDied: (message: string) => void;
  /** With --pvpanic: called when the guest reports a panic through the pvpanic device. */
  onGuestPanic: () => void;
}): Promise<PciDevices> {
  const { config, vm, memory, io, mmio, hub } = opts;
  const fds = new OwnedFds();
  const deviceMemory = new DeviceMemoryArea(vm, highMmioStart(config.memMib * MIB), highMmioEnd(vm));
  const sandbox = config.disableSandbox
    ? undefined
    : { pivotRoot: config.pivotRoot, logFailures: config.seccompLogFailures };

  let children: DeviceProcess[] = [];
  const controls = new DeviceControlGroups();
  let events: { stop(): void };
  let slots: PciSlots;
  const routes = new GsiRoutes(vm);
  try {
    const plans = planVirtioDevices(config, fds, undefined, (request, label) =>
      deviceMemory.map(request, label),
    );
    // 64-bit BARs go after the device memory (virtio-pmem) in the high MMIO area.
    slots = createPciSlots({
      io,
      mmio,
      hub,
      memoryEnd: Math.max(memory.end, deviceMemory.used),
      resetEventFd: opts.resetEventFd,
    });
    children = await startVirtioDevices(plans, { memory, sandbox, onDeviceDied: opts.onDeviceDied });
    const functions = attachVirtioDevices(
      plans,
      children.map((c) => c.device),
      { vm, memory, slots, routes },
    );
    plans.forEach((plan, i) => {
      if (plan.kind.control) controls.add(plan.kind.control, plan.options, children[i]!.device);
    });
    // Configuration-change and needs-reset events come through the transport, so the main thread drains them.
    events = watchDeviceEvents(
      children.map((c, i) => ({ device: c.device, interrupt: functions[i]!.interrupt })),
    );
  } catch (e) {
    await Promise.all(children.map((child) => child.stop()));
    fds.closeAll();
    deviceMemory.close();
    throw e;
  }

  // crosvm's --pvpanic: after the virtio functions, so their addresses do not depend on it.
  if (config.pvpanic) attachPvPanic(slots, opts.onGuestPanic);
  // Root ports last: a VM without hot-plug slots keeps every address it had.
  let hotplug: PciHotplug | undefined;
  const slotCount = config.pciHotplugSlots ?? 0;
  if (slotCount > 0) {
    try {
      hotplug = new PciHotplug(addRootPorts(slots, slotCount, routes, fds), {
        vm,
        memory,
        root: slots.root,
        routes,
        netKind: netDeviceKind(),
        sandbox,
        onDeviceDied: opts.onDeviceDied,
      });
    } catch (e) {
      events.stop();
      await Promise.all(children.map((child) => child.stop()));
      fds.closeAll();
      deviceMemory.close();
      throw new Error(`--pci-hotplug-slots ${slotCount}: ${(e as Error).message}`);
    }
  }

  const allDevices = () => [...children.map((c) => c.device), ...(hotplug?.devices() ?? [])];
  return {
    control: (group, index, request) => controls.request(group, index, request),
    ...(hotplug ? { hotplug } : {}),
    sleep() {
      eachDevice(allDevices(), "sleep", (d) => d.sleep?.());
    },
    wake() {
      eachDevice(allDevices(), "wake", (d) => d.wake?.());
    },
    async close() {
      await hotplug?.close();
      events.stop();
      await Promise.all(children.map((child) => child.stop()));
      fds.closeAll();
      deviceMemory.close();
    },
  };
}

/** Linux with 4-level paging addresses at most 46 physical bits (crosvm HIGH_MMIO_MAX_END; acpi/tables.ts). */
const MAX_GUEST_PHYS_BITS = 46;

/** The end of the high MMIO area the guest can address (CPUID 0x80000008 as KVM reports it, at most 46 bits). */
function highMmioEnd(vm: Vm): number {
  return 2 ** Math.min(physAddrBits(vm.kvm.supportedCpuid()), MAX_GUEST_PHYS_BITS);
}

/** `count` hot-plug root ports, slots 1..count, each with its MSI routed through an irqfd of `fds`. */
function addRootPorts(slots: PciSlots, count: number, routes: GsiRoutes, fds: OwnedFds): PcieRootPort[] {
  return Array.from({ length: count }, (_, i) => {
    const port = slots.addRootPort(i + 1);
    const irqfd = fds.eventfd();
    port.msi.irq = new EventFdIrq(irqfd);
    port.msi.onChange = routes.addMsiVector(irqfd, `${port.debugLabel} MSI`);
    log.debug(
      `${port.debugLabel}: secondary bus ${port.secondaryBus}, window 0x${port.windowBase.toString(16)}`,
    );
    return port;
  });
}

/** The net kind, which hot-plugged NICs use. */
function netDeviceKind(): VmDeviceKind {
  const kind = vmDeviceKinds().find((k) => k.name === "net");
  if (!kind) throw new Error("the net device kind is not registered");
  return kind;
}

function attachPvPanic(slots: PciSlots, onPanic: () => void): void {
  const at = slots.attach(new PvPanic({ onPanic }));
  log.debug(`pvpanic at ${formatPciAddress(at.address)}`);
}
