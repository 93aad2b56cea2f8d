// The virtio devices of a VM, as one loop over the device kinds (src/devices/virtio/kinds.ts) in crosvm's order:
// each kind selects its devices from the VmConfig, their options are checked with the kind's schema (the device
// process checks them again with the same schema), the kind opens their files, and the VMM makes one ioeventfd
// per queue and one irqfd per MSI-X vector. Every device process then starts at once; the virtio-pci functions
// are attached in plan order, so PCI addresses never depend on which process is ready first.
import { logger } from "../base/log.ts";
import { formatPciAddress } from "../devices/pci/pci_root.ts";
import {
  type GuestMapping,
  type GuestMappingRequest,
  kindQueueSizes,
  msixVectorCount,
  type OptionsSchema,
  parseDeviceOptions,
  type VirtioDeviceKind,
} from "../devices/virtio/kind.ts";
import { addedVirtioDeviceKinds, VIRTIO_DEVICE_KINDS } from "../devices/virtio/kinds.ts";
import type { VirtioDevice } from "../devices/virtio/virtio_device.ts";
import { VirtioPciDevice } from "../devices/virtio/virtio_pci_device.ts";
import type { Vm } from "../hypervisor/vm.ts";
import { type DeviceProcess, type SandboxOptions, startDeviceProcess } from "../jail/device_process/spawn.ts";
import type { GuestMemory } from "../vm_memory/guest_memory.ts";
import type { VmConfig } from "./config.ts";
import type { GsiRoutes } from "./gsi_routes.ts";
import type { OwnedFds } from "./owned_fds.ts";
import type { PciSlots } from "./pci_slots.ts";
import { bindMsixVectors, bindQueueNotifies } from "./virtio_wiring.ts";

const log = logger("vmm::pci");

export type VmDeviceKind = VirtioDeviceKind<OptionsSchema, VmConfig>;

/** The kinds this VMM attaches, in order (built-in ones first; VmConfig gives each the configuration it reads). */
export function vmDeviceKinds(): readonly VmDeviceKind[] {
  return [...VIRTIO_DEVICE_KINDS, ...addedVirtioDeviceKinds()];
}

/** One device, ready to start: options checked, files opened, eventfds made. */
export interface VirtioDevicePlan {
  readonly kind: VmDeviceKind;
  readonly options: unknown;
  readonly label: string;
  readonly backing: readonly number[];
  /** One eventfd per queue, signalled by KVM on the queue's notify address. */
  readonly queueEvents: readonly number[];
  /** One eventfd per MSI-X vector, bound by KVM to the vector's MSI route. */
  readonly irqfds: readonly number[];
  /** Where the device's guest mapping went, when its kind asked for one (virtio-pmem). */
  readonly mapping?: GuestMapping;
}

/** Maps a kind's guest-mapping request into guest physical memory (device_memory.ts DeviceMemoryArea.map). */
export type PlaceGuestMapping = (request: GuestMappingRequest, label: string) => GuestMapping;

/** Plans every device of every kind in attach order; `fds` owns what is opened or made (closed on failure too). */
export function planVirtioDevices(
  config: VmConfig,
  fds: OwnedFds,
  kinds: readonly VmDeviceKind[] = vmDeviceKinds(),
  placeMapping?: PlaceGuestMapping,
): VirtioDevicePlan[] {
  const plans: VirtioDevicePlan[] = [];
  for (const kind of kinds) {
    kind.select(config).forEach((raw, index) => {
      plans.push(planVirtioDevice(kind, raw, index, fds, placeMapping));
    });
  }
  return plans;
}

/** Plans device `index` of `kind` from its raw options (checked with the kind's schema); `fds` owns what is made. */
export function planVirtioDevice(
  kind: VmDeviceKind,
  raw: unknown,
  index: number,
  fds: OwnedFds,
  placeMapping?: PlaceGuestMapping,
): VirtioDevicePlan {
  const options = parseDeviceOptions(kind, raw, "VMM");
  const { label, backing, guestMapping } = kind.prepare(options, index);
  fds.adopt(backing);
  let mapping: GuestMapping | undefined;
  if (guestMapping) {
    if (!placeMapping) throw new Error(`${label}: this VMM places no guest mappings`);
    mapping = placeMapping(guestMapping, label);
  }
  const queueEvents = fds.eventfds(kindQueueSizes(kind, options).length);
  const irqfds = fds.eventfds(msixVectorCount(kind, options));
  return { kind, options, label, backing, queueEvents, irqfds, ...(mapping ? { mapping } : {}) };
}

/** Starts every planned device process at once; if one fails, stops the others and throws its error. */
export async function startVirtioDevices(
  plans: readonly VirtioDevicePlan[],
  o: {
    memory: GuestMemory;
    /** undefined with --disable-sandbox. */
    sandbox: SandboxOptions | undefined;
    onDeviceDied: (message: string) => void;
  },
): Promise<DeviceProcess[]> {
  const outcomes = await Promise.allSettled(
    plans.map((plan) =>
      startDeviceProcess({
        kind: plan.kind.name,
        options: plan.options,
        memory: o.memory,
        queueEvents: plan.queueEvents,
        irqfds: plan.irqfds,
        backing: plan.backing,
        ...(plan.mapping ? { mapping: plan.mapping } : {}),
        sandbox: o.sandbox,
        // --disable-sandbox: crosvm's single process mode, each device's serve loop in a Worker of the VMM.
        inProcess: o.sandbox === undefined,
        onDeviceDied: o.onDeviceDied,
      }),
    ),
  );
  const started = outcomes.flatMap((r) => (r.status === "fulfilled" ? [r.value] : []));
  const failure = outcomes.find((r) => r.status === "rejected");
  if (failure) {
    await Promise.all(started.map((child) => child.stop()));
    throw failure.reason;
  }
  return started;
}

/**
 * Puts one virtio-pci function per started device (`devices[i]` runs `plans[i]`, e.g. a device process's proxy)
 * on the PCI root, in plan order, with its queues' ioeventfds and its vectors' irqfds bound. A device whose queues
 * differ from its kind's is refused: a device process does not choose its own queues.
 */
export function attachVirtioDevices(
  plans: readonly VirtioDevicePlan[],
  devices: readonly VirtioDevice[],
  o: { vm: Vm; memory: GuestMemory; slots: PciSlots; routes: GsiRoutes },
): VirtioPciDevice[] {
  return plans.map((plan, i) => {
    const device = devices[i]!;
    const sizes = device.queueMaxSizes.join(",");
    const expected = kindQueueSizes(plan.kind, plan.options).join(",");
    if (sizes !== expected)
      throw new Error(
        `${plan.label}: the device process offers queues [${sizes}], its kind has [${expected}]`,
      );
    const pci = new VirtioPciDevice(device, o.memory, { msixVectors: plan.irqfds.length });
    bindMsixVectors(pci, plan.irqfds, o.routes, plan.label);
    const at = o.slots.attach(pci);
    const bar0 = bindQueueNotifies(o.vm, pci, at, plan.queueEvents, plan.label);
    log.debug(`${plan.label} at ${formatPciAddress(at.address)}, BAR0 0x${bar0.toString(16)}`);
    return pci;
  });
}
