import { expect, test } from "bun:test";
import { Bus } from "../../../src/devices/bus.ts";
import { attachPciDevice } from "../../../src/devices/pci/attach.ts";
import { BarAllocator, LOW_MMIO_START } from "../../../src/devices/pci/bar_allocator.ts";
import { PciRoot } from "../../../src/devices/pci/pci_root.ts";
import { COMMON_NUM_QUEUES } from "../../../src/devices/virtio/virtio_pci_common_config.ts";
import { VirtioPciDevice } from "../../../src/devices/virtio/virtio_pci_device.ts";
import { VirtioRng } from "../../../src/devices/virtio/rng.ts";
import { GuestMemory } from "../../../src/vm_memory/guest_memory.ts";

test("an attached virtio device gets slot 1 and answers on the MMIO bus at its BAR", () => {
  const root = new PciRoot();
  const mmio = new Bus("mmio");
  const mem = GuestMemory.anonymous([{ guestAddr: 0, size: 1 << 20 }]);
  const dev = new VirtioPciDevice(new VirtioRng(), mem);
  const attached = attachPciDevice(root, new BarAllocator(2 ** 32), mmio, dev);
  const d = new Uint8Array(2);
  mmio.read(LOW_MMIO_START + COMMON_NUM_QUEUES, d);
  expect(attached.address).toEqual({ bus: 0, device: 1, function: 0 });
  expect(attached.bars).toEqual([{ index: 0, addr: LOW_MMIO_START, size: 0x8000 }]);
  expect(d[0]).toBe(1);
});

test("the interrupt line set by the VMM reads back at 0x3C", () => {
  const dev = new VirtioPciDevice(new VirtioRng(), GuestMemory.anonymous([{ guestAddr: 0, size: 4096 }]));
  dev.config.setInterruptLine(11);
  expect(dev.readConfigRegister(0x3c / 4) & 0xff).toBe(11);
});
