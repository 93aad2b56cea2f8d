// The VMM's loop over the device kinds: devices are planned in crosvm's order (block devices as given, then the
// virtio-console ports, then rng), each with one eventfd per queue and one per MSI-X vector, and attached at the
// PCI addresses that order gives, whatever order their processes came up in.
import { afterEach, expect, test } from "bun:test";
import { Bus } from "../../../src/devices/bus.ts";
import type { VirtioDevice } from "../../../src/devices/virtio/virtio_device.ts";
import { kindQueueSizes } from "../../../src/devices/virtio/kind.ts";
import type { Vm } from "../../../src/hypervisor/vm.ts";
import { GuestMemory } from "../../../src/vm_memory/guest_memory.ts";
import type { VmConfig } from "../../../src/vmm/config.ts";
import { GsiRoutes } from "../../../src/vmm/gsi_routes.ts";
import { MainThreadHub } from "../../../src/vmm/main_thread_hub.ts";
import { OwnedFds } from "../../../src/vmm/owned_fds.ts";
import { createPciSlots } from "../../../src/vmm/pci_slots.ts";
import {
  attachVirtioDevices,
  planVirtioDevices,
  type VirtioDevicePlan,
} from "../../../src/vmm/virtio_devices.ts";

const disk = { ro: false, root: false, sparse: true, blockSize: 512, direct: false };
const port = {
  type: "sink",
  num: 1,
  console: false,
  earlycon: false,
  stdin: false,
  debugconPort: 0x402,
} as const;

/** Two disks, a UART, one virtio-console port, rng and the balloon: only the fields the device kinds read matter. */
const config = {
  params: [],
  sharedDirs: [],
  memMib: 16,
  cpus: 1,
  disks: [
    { ...disk, path: "root.img", root: true },
    { ...disk, path: "data.img" },
  ],
  serials: [
    { ...port, hardware: "serial" },
    { ...port, hardware: "virtio-console" },
  ],
  pmems: [],
  rng: true,
  nets: [],
  pvpanic: false,
  disableSandbox: false,
  hugepages: false,
  seccompLogFailures: false,
  extendedStatus: false,
  balloon: true,
  balloonPageReporting: false,
  balloonBiasMib: 0,
} satisfies Partial<VmConfig> as VmConfig;

const fds = new OwnedFds();
afterEach(() => fds.closeAll());

/** A device model that only answers what the transport asks before the guest runs. */
function fakeDevice(
  plan: VirtioDevicePlan,
  queueMaxSizes = kindQueueSizes(plan.kind, plan.options),
): VirtioDevice {
  return {
    debugLabel: plan.label,
    deviceType: 1,
    queueMaxSizes,
    features: () => 1n << 32n,
    ackFeatures() {},
    readConfig: (_offset, data) => data.fill(0),
    writeConfig() {},
    activate() {},
    queueNotify() {},
    reset() {},
  };
}

/** KVM's part: the ioeventfd registrations, recorded. */
function fakeVm(ioevents: { fd: number; addr: number }[]): Vm {
  return {
    registerIoevent: (fd: number, at: { addr: number }) => ioevents.push({ fd, addr: at.addr }),
    setGsiRouting() {},
    registerIrqfd() {},
    unregisterIrqfd() {},
  } as unknown as Vm;
}

function attachAll(
  plans: VirtioDevicePlan[],
  devices: VirtioDevice[],
  ioevents: { fd: number; addr: number }[],
) {
  const memory = GuestMemory.anonymous([{ guestAddr: 0, size: 1 << 20 }]);
  const mmio = new Bus("mmio");
  const slots = createPciSlots({
    io: new Bus("io"),
    mmio,
    hub: new MainThreadHub(),
    memoryEnd: memory.end,
    resetEventFd: -1,
  });
  const vm = fakeVm(ioevents);
  const functions = attachVirtioDevices(plans, devices, { vm, memory, slots, routes: new GsiRoutes(vm) });
  return { slots, functions };
}

test("devices are planned block devices first, in --block order, then console ports, rng and the balloon", () => {
  const plans = planVirtioDevices(config, fds);

  expect(plans.map((p) => p.label)).toEqual([
    "virtio-blk 0 (root.img)",
    "virtio-blk 1 (data.img)",
    "virtio-console 1",
    "virtio-rng",
    "virtio-balloon",
  ]);
});

test("each planned device has one eventfd per queue and one per MSI-X vector (queues + config change)", () => {
  const plans = planVirtioDevices(config, fds);

  expect(plans.map((p) => [p.queueEvents.length, p.irqfds.length])).toEqual([
    [1, 2],
    [1, 2],
    [2, 3],
    [1, 2],
    [4, 5],
  ]);
});

test("the functions take the slots after the host bridge in plan order: 00:01.0 to 00:05.0", () => {
  const plans = planVirtioDevices(config, fds);
  const devices = plans.map((p) => fakeDevice(p));

  const { slots, functions } = attachAll(plans, devices, []);

  for (const [i, fn] of functions.entries())
    expect(slots.root.device({ bus: 0, device: i + 1, function: 0 })).toBe(fn);
});

test("each queue's notify address in BAR0 is bound to that queue's eventfd", () => {
  const plans = planVirtioDevices(config, fds);
  const ioevents: { fd: number; addr: number }[] = [];

  attachAll(
    plans,
    plans.map((p) => fakeDevice(p)),
    ioevents,
  );

  expect(ioevents.map((e) => e.fd)).toEqual(plans.flatMap((p) => p.queueEvents));
});

test("a device offering other queues than its kind's is refused, naming it", () => {
  const plans = planVirtioDevices(config, fds);
  const devices = plans.map((p, i) =>
    fakeDevice(p, i === 3 ? [256, 256] : kindQueueSizes(p.kind, p.options)),
  );

  expect(() => attachAll(plans, devices, [])).toThrow(
    "virtio-rng: the device process offers queues [256,256], its kind has [256]",
  );
});

test("options the VmConfig gives wrongly are refused before any device starts", () => {
  const bad = { ...config, disks: [{ ...disk, path: "" }] } as VmConfig;

  expect(() => planVirtioDevices(bad, fds)).toThrow(
    'block device options (VMM): key "path": expected a file path, got ""',
  );
});
