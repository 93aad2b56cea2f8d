import { describe, expect, test } from "bun:test";
import { RecordingIrq } from "../../../src/devices/irq.ts";
import { PCI_CAPABILITY_LIST } from "../../../src/devices/pci/config_space.ts";
import {
  VIRTIO_F_VERSION_1,
  VIRTIO_STATUS_ACKNOWLEDGE,
  VIRTIO_STATUS_DEVICE_NEEDS_RESET,
  VIRTIO_STATUS_DRIVER,
  VIRTIO_STATUS_DRIVER_OK,
  VIRTIO_STATUS_FEATURES_OK,
  featureBit,
} from "../../../src/devices/virtio/constants.ts";
import { VirtioRng } from "../../../src/devices/virtio/rng.ts";
import { AVAIL_BASE, DESC_BASE, FakeDriverQueue, USED_BASE } from "../../../src/devices/virtio/testing.ts";
import {
  COMMON_CONFIG_MSIX_VECTOR,
  COMMON_DEVICE_FEATURE,
  COMMON_DEVICE_FEATURE_SELECT,
  COMMON_DEVICE_STATUS,
  COMMON_DRIVER_FEATURE,
  COMMON_DRIVER_FEATURE_SELECT,
  COMMON_NUM_QUEUES,
  COMMON_QUEUE_DESC_HI,
  COMMON_QUEUE_DESC_LO,
  COMMON_QUEUE_DEVICE_LO,
  COMMON_QUEUE_DRIVER_LO,
  COMMON_QUEUE_ENABLE,
  COMMON_QUEUE_MSIX_VECTOR,
  COMMON_QUEUE_NOTIFY_OFF,
  COMMON_QUEUE_SELECT,
  COMMON_QUEUE_SIZE,
} from "../../../src/devices/virtio/virtio_pci_common_config.ts";
import {
  ISR_OFFSET,
  MSIX_TABLE_OFFSET,
  NOTIFY_OFFSET,
  VIRTIO_BAR,
  VirtioPciDevice,
} from "../../../src/devices/virtio/virtio_pci_device.ts";

/** A minimal driver talking to BAR0 the way Linux's virtio_pci_modern does. */
class PciDriver {
  readonly drv = new FakeDriverQueue();
  readonly intx = new RecordingIrq();
  readonly pci: VirtioPciDevice;
  constructor(readonly rng = new VirtioRng((b) => b.fill(0x77))) {
    this.pci = new VirtioPciDevice(rng, this.drv.mem, { intx: this.intx });
  }
  read(offset: number, size: number): number {
    const d = new Uint8Array(size);
    this.pci.readBar(0, offset, d);
    let v = 0;
    for (let i = size - 1; i >= 0; i--) v = v * 256 + d[i]!;
    return v;
  }
  write(offset: number, size: number, value: number): void {
    const d = new Uint8Array(size);
    let v = value;
    for (let i = 0; i < size; i++) {
      d[i] = v % 256;
      v = Math.floor(v / 256);
    }
    this.pci.writeBar(0, offset, d);
  }
  status(): number {
    return this.read(COMMON_DEVICE_STATUS, 1);
  }
  setStatus(v: number): void {
    this.write(COMMON_DEVICE_STATUS, 1, v);
  }
  negotiate(features = featureBit(VIRTIO_F_VERSION_1)): void {
    this.setStatus(VIRTIO_STATUS_ACKNOWLEDGE);
    this.setStatus(VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
    for (const sel of [0, 1]) {
      this.write(COMMON_DRIVER_FEATURE_SELECT, 4, sel);
      this.write(COMMON_DRIVER_FEATURE, 4, Number((features >> BigInt(32 * sel)) & 0xffffffffn));
    }
    this.setStatus(VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK);
  }
  setupQueue0(size = 16): void {
    this.write(COMMON_QUEUE_SELECT, 2, 0);
    this.write(COMMON_QUEUE_SIZE, 2, size);
    this.write(COMMON_QUEUE_DESC_LO, 4, DESC_BASE);
    this.write(COMMON_QUEUE_DESC_HI, 4, 0);
    this.write(COMMON_QUEUE_DRIVER_LO, 4, AVAIL_BASE);
    this.write(COMMON_QUEUE_DEVICE_LO, 4, USED_BASE);
    this.write(COMMON_QUEUE_ENABLE, 2, 1);
  }
  driverOk(): void {
    this.setStatus(
      VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK,
    );
  }
  bringUp(): void {
    this.negotiate();
    this.setupQueue0();
    this.driverOk();
  }
}

describe("PCI identity and capabilities (4.1.2, 4.1.4)", () => {
  test("IDs are 1AF4:1040+type with revision 1", () => {
    const { pci } = new PciDriver();
    expect(pci.readConfigRegister(0)).toBe(0x1044_1af4);
    expect(pci.readConfigRegister(2) & 0xff).toBe(1);
  });

  test("the capability list holds common, notify, ISR, device and MSI-X capabilities", () => {
    const { pci } = new PciDriver();
    const cfg = new Uint8Array(256);
    for (let r = 0; r < 64; r++) new DataView(cfg.buffer).setUint32(r * 4, pci.readConfigRegister(r), true);
    const found: string[] = [];
    for (let p = cfg[PCI_CAPABILITY_LIST]!; p !== 0; p = cfg[p + 1]!) {
      found.push(cfg[p] === 0x09 ? `virtio:${cfg[p + 3]}@bar${cfg[p + 4]}` : `id:${cfg[p]!.toString(16)}`);
    }
    expect(found).toEqual(["virtio:1@bar0", "virtio:2@bar0", "virtio:3@bar0", "virtio:4@bar0", "id:11"]);
  });

  test("the notify capability gives notify_off_multiplier 4", () => {
    const { pci } = new PciDriver();
    const bytes = pci.config.bytes();
    const notify = bytes[bytes[PCI_CAPABILITY_LIST]! + 1]!;
    expect(new DataView(bytes.buffer).getUint32(notify + 16, true)).toBe(4);
  });

  test("BAR0 sizes as 32 KiB of 32-bit memory", () => {
    const { pci } = new PciDriver();
    pci.writeConfigRegister(4, 0, Uint8Array.of(0xff, 0xff, 0xff, 0xff));
    expect(pci.readConfigRegister(4)).toBe(0xffff8000);
  });

  test("each queue has its own 16-bit notify register (the ioeventfd width)", () => {
    const { pci } = new PciDriver();
    expect(pci.notifyRegisters()).toEqual([{ queue: 0, barOffset: NOTIFY_OFFSET, width: 2 }]);
  });
});

describe("common configuration (4.1.4.3)", () => {
  test("device_feature shows VERSION_1 in the upper word", () => {
    const d = new PciDriver();
    d.write(COMMON_DEVICE_FEATURE_SELECT, 4, 1);
    expect(d.read(COMMON_DEVICE_FEATURE, 4) & 1).toBe(1);
  });

  test("num_queues reports the device's queue count", () => {
    expect(new PciDriver().read(COMMON_NUM_QUEUES, 2)).toBe(1);
  });

  test("FEATURES_OK sticks when the driver accepts a subset with VERSION_1", () => {
    const d = new PciDriver();
    d.negotiate();
    expect(d.status() & VIRTIO_STATUS_FEATURES_OK).toBe(VIRTIO_STATUS_FEATURES_OK);
  });

  test("FEATURES_OK is refused for a feature the device did not offer (2.2.2)", () => {
    const d = new PciDriver();
    d.negotiate(featureBit(VIRTIO_F_VERSION_1) | featureBit(40));
    expect(d.status() & VIRTIO_STATUS_FEATURES_OK).toBe(0);
  });

  test("FEATURES_OK is refused without VIRTIO_F_VERSION_1", () => {
    const d = new PciDriver();
    d.negotiate(0n);
    expect(d.status() & VIRTIO_STATUS_FEATURES_OK).toBe(0);
  });

  test("driver features cannot change after FEATURES_OK", () => {
    const d = new PciDriver();
    d.negotiate();
    d.write(COMMON_DRIVER_FEATURE_SELECT, 4, 0);
    d.write(COMMON_DRIVER_FEATURE, 4, 0xffff);
    expect(d.read(COMMON_DRIVER_FEATURE, 4)).toBe(0);
  });

  test("queue_size reads the maximum and accepts a smaller power of two", () => {
    const d = new PciDriver();
    d.write(COMMON_QUEUE_SELECT, 2, 0);
    expect(d.read(COMMON_QUEUE_SIZE, 2)).toBe(256);
    d.write(COMMON_QUEUE_SIZE, 2, 64);
    expect(d.read(COMMON_QUEUE_SIZE, 2)).toBe(64);
  });

  test("queue_size reads 0 for a queue the device does not have", () => {
    const d = new PciDriver();
    d.write(COMMON_QUEUE_SELECT, 2, 5);
    expect(d.read(COMMON_QUEUE_SIZE, 2)).toBe(0);
  });

  test("queue_notify_off is the queue index", () => {
    const d = new PciDriver();
    d.write(COMMON_QUEUE_SELECT, 2, 0);
    expect(d.read(COMMON_QUEUE_NOTIFY_OFF, 2)).toBe(0);
  });

  test("a ring address written as two halves reads back whole", () => {
    const d = new PciDriver();
    d.write(COMMON_QUEUE_DESC_LO, 4, 0x1234_5000);
    d.write(COMMON_QUEUE_DESC_HI, 4, 0x1);
    expect(d.pci.queues[0]!.descTable).toBe(0x1_1234_5000);
  });

  test("a 64-bit ring address write past 2^53 is held as 2^53 - 1, outside RAM, as a write of its halves is", () => {
    const d = new PciDriver();
    d.pci.writeBar(VIRTIO_BAR, COMMON_QUEUE_DESC_LO, new Uint8Array(8).fill(0xff));
    expect(d.read(COMMON_QUEUE_DESC_LO, 8)).toBe(Number.MAX_SAFE_INTEGER);
  });

  test("an MSI-X vector beyond the table reads back NO_VECTOR (4.1.5.1.2)", () => {
    const d = new PciDriver();
    d.write(COMMON_QUEUE_MSIX_VECTOR, 2, 50);
    expect(d.read(COMMON_QUEUE_MSIX_VECTOR, 2)).toBe(0xffff);
    d.write(COMMON_CONFIG_MSIX_VECTOR, 2, 1);
    expect(d.read(COMMON_CONFIG_MSIX_VECTOR, 2)).toBe(1);
  });
});

describe("status, activation and reset (2.1, 3.1)", () => {
  test("DRIVER_OK activates the device and a notify processes the queue", () => {
    const d = new PciDriver();
    d.bringUp();
    expect(d.rng.lifecycle).toBe("active");
    d.drv.addChain([{ len: 4, writable: true }]);
    d.write(NOTIFY_OFFSET, 2, 0);
    expect(d.drv.usedIdx()).toBe(1);
  });

  test("without MSI-X a used buffer sets ISR bit 0 and raises INTx; reading ISR clears it", () => {
    const d = new PciDriver();
    d.bringUp();
    d.drv.addChain([{ len: 4, writable: true }]);
    d.write(NOTIFY_OFFSET, 2, 0);
    expect(d.intx.count).toBe(1);
    expect(d.read(ISR_OFFSET, 1)).toBe(1);
    expect(d.read(ISR_OFFSET, 1)).toBe(0);
  });

  test("with MSI-X enabled a used buffer goes to the queue's vector", () => {
    const d = new PciDriver();
    const vec = new RecordingIrq();
    d.pci.msix.vectorIrq = (v) => (v === 1 ? vec : undefined);
    // Enable MSI-X (Message Control bit 15) and unmask vector 1.
    const bytes = d.pci.config.bytes();
    let cap = bytes[PCI_CAPABILITY_LIST]!;
    while (bytes[cap] !== 0x11) cap = bytes[cap + 1]!;
    d.pci.writeConfigRegister(cap / 4, 2, Uint8Array.of(0x00, 0x80));
    d.write(MSIX_TABLE_OFFSET + 16 + 12, 4, 0);
    d.negotiate();
    d.setupQueue0();
    d.write(COMMON_QUEUE_MSIX_VECTOR, 2, 1);
    d.driverOk();
    d.drv.addChain([{ len: 4, writable: true }]);
    d.write(NOTIFY_OFFSET, 2, 0);
    expect(vec.count).toBe(1);
    expect(d.intx.count).toBe(0);
  });

  test("writing 0 resets the device and the queues", () => {
    const d = new PciDriver();
    d.bringUp();
    d.setStatus(0);
    expect(d.status()).toBe(0);
    expect(d.rng.lifecycle).toBe("reset");
    expect(d.read(COMMON_QUEUE_ENABLE, 2)).toBe(0);
  });

  test("the driver can bring the device up again after a reset", () => {
    const d = new PciDriver();
    d.bringUp();
    d.setStatus(0);
    d.drv.mem.writeU16(AVAIL_BASE + 2, 0);
    d.bringUp();
    d.drv.addChain([{ len: 4, writable: true }]);
    d.write(NOTIFY_OFFSET, 2, 0);
    expect(d.rng.lifecycle).toBe("active");
    expect(d.drv.usedIdx()).toBe(1);
  });

  test("queue fields are read-only once the queue is enabled", () => {
    const d = new PciDriver();
    d.negotiate();
    d.setupQueue0();
    d.write(COMMON_QUEUE_DESC_LO, 4, 0x5000);
    expect(d.pci.queues[0]!.descTable).toBe(DESC_BASE);
  });

  test("a ring outside guest RAM at DRIVER_OK sets DEVICE_NEEDS_RESET instead of activating", () => {
    const d = new PciDriver();
    d.negotiate();
    d.setupQueue0();
    d.pci.queues[0]!.usedRing = 0x7fff_0000;
    d.driverOk();
    expect(d.status() & VIRTIO_STATUS_DEVICE_NEEDS_RESET).toBe(VIRTIO_STATUS_DEVICE_NEEDS_RESET);
    expect(d.rng.lifecycle).toBe("new");
  });

  test("DRIVER_OK without FEATURES_OK does not activate", () => {
    const d = new PciDriver();
    d.setStatus(VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_DRIVER_OK);
    expect(d.rng.lifecycle).toBe("new");
  });

  test("a queue the driver breaks raises a config interrupt with DEVICE_NEEDS_RESET", () => {
    const d = new PciDriver();
    d.bringUp();
    d.drv.setAvailIdx(100);
    d.write(NOTIFY_OFFSET, 2, 0);
    expect(d.status() & VIRTIO_STATUS_DEVICE_NEEDS_RESET).toBe(VIRTIO_STATUS_DEVICE_NEEDS_RESET);
    expect(d.read(ISR_OFFSET, 1) & 2).toBe(2);
  });

  test("a configuration change bumps config_generation", () => {
    const d = new PciDriver();
    d.bringUp();
    d.pci.interrupt.signalConfigChanged();
    expect(d.read(21, 1)).toBe(1);
  });
});
