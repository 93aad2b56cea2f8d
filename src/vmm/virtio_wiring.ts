// The data path around a virtio-pci function whose device runs elsewhere (a device process): KVM signals each
// queue's ioeventfd on a write to the queue's notify address, and each MSI-X vector's irqfd is bound by KVM to the
// vector's MSI route while the vector is unmasked (gsi_routes.ts). Neither passes through the VMM's threads.
import { EventFdIrq } from "../devices/irq.ts";
import type { AttachedPciDevice } from "../devices/pci/attach.ts";
import { VIRTIO_BAR, type VirtioPciDevice } from "../devices/virtio/virtio_pci_device.ts";
import type { Vm } from "../hypervisor/vm.ts";
import type { GsiRoutes } from "./gsi_routes.ts";

/** Vector v raises `irqfds[v]`; each vector gets a GSI, bound to its irqfd while unmasked. Before attaching. */
export function bindMsixVectors(
  pci: VirtioPciDevice,
  irqfds: readonly number[],
  routes: GsiRoutes,
  label: string,
) {
  pci.msix.vectorIrq = (v) => (irqfds[v] === undefined ? undefined : new EventFdIrq(irqfds[v]));
  const listeners = irqfds.map((fd, v) => routes.addMsiVector(fd, `${label} vector ${v}`));
  pci.msix.onVectorChange = (v, state) => listeners[v]?.(state);
}

/** Registers queue i's notify address (in the placed BAR0) with KVM to signal `queueEvents[i]`; returns BAR0. */
export function bindQueueNotifies(
  vm: Vm,
  pci: VirtioPciDevice,
  at: AttachedPciDevice,
  queueEvents: readonly number[],
  label: string,
): number {
  const bar0 = at.bars.find((b) => b.index === VIRTIO_BAR);
  if (!bar0) throw new Error(`${label}: BAR${VIRTIO_BAR} was not placed`);
  for (const n of pci.notifyRegisters()) {
    const fd = queueEvents[n.queue];
    if (fd === undefined) throw new Error(`${label}: queue ${n.queue} has no eventfd`);
    vm.registerIoevent(fd, { space: "mmio", addr: bar0.addr + n.barOffset }, n.width);
  }
  return bar0.addr;
}
