// What must hold of the PCI side whatever the guest did. After every access, for each virtio function: with
// FEATURES_OK set, the driver's features are offered ones and include VERSION_1; config_msix_vector and every
// queue's vector are in the MSI-X table or NO_VECTOR; every ring address is an exact 64-bit value (what a read
// returns); every active queue still has an allowed size and rings in RAM; the ISR holds only its two bits; the
// model is active only while the transport is (else a reset would miss it); and right after a write of 0 to
// device_status, the function is in its reset state. After each sequence: every common-configuration field reads as
// a value of the access's size; no PBA bit is set past the table; and for every function, what no write may change
// has not changed (IDs, class, header type, the capability chain, the BARs' type bits) and every BAR's address is
// aligned to its size.
import {
  PCI_BAR0,
  PCI_CLASS_REVISION,
  PCI_HEADER_TYPE,
  PCI_VENDOR_ID,
} from "../../src/devices/pci/config_space.ts";
import type { PciDevice } from "../../src/devices/pci/pci_device.ts";
import {
  VIRTIO_F_VERSION_1,
  VIRTIO_ISR_CONFIG,
  VIRTIO_ISR_QUEUE,
  VIRTIO_MSI_NO_VECTOR,
  VIRTIO_STATUS_FEATURES_OK,
  featureBit,
} from "../../src/devices/virtio/constants.ts";
import {
  COMMON_CONFIG_SIZE,
  COMMON_DEVICE_STATUS,
} from "../../src/devices/virtio/virtio_pci_common_config.ts";
import type { GuestMemory } from "../../src/vm_memory/guest_memory.ts";
import { capabilities, configBytes } from "./capabilities.ts";
import { type GuestAccess, MMIO_SIZES } from "./guest_access.ts";
import type { PciMachine, VirtioFunction } from "./pci_machine.ts";
import { queueProblem } from "./watched_virtio_device.ts";

/** Type bits of a BAR (PCI 3.0 section 6.2.5.1): 1:0 of an I/O BAR, 3:0 of a memory BAR. */
const IO_BAR_TYPE_BITS = 0x3;
const MEM_BAR_TYPE_BITS = 0xf;
const VERSION_1 = featureBit(VIRTIO_F_VERSION_1);

/** After every access: the transport's feature, vector and queue invariants of `f`. */
export function transportFinding(f: VirtioFunction, mem: GuestMemory): string | undefined {
  const c = f.pci.common;
  const label = f.model.debugLabel;
  if (c.status & VIRTIO_STATUS_FEATURES_OK) {
    const unoffered = c.driverFeatures & ~c.deviceFeatures;
    if (unoffered !== 0n) return `${label}: FEATURES_OK with unoffered features 0x${unoffered.toString(16)}`;
    if (!(c.driverFeatures & VERSION_1)) return `${label}: FEATURES_OK without VERSION_1`;
  }
  if (f.model.lifecycle === "active" && f.pci.lifecycle !== "active")
    return `${label}: the model is active, the transport is ${f.pci.lifecycle}: a reset would not reach the model`;
  const isr = f.pci.isr.peek();
  if (isr & ~(VIRTIO_ISR_QUEUE | VIRTIO_ISR_CONFIG)) return `${label}: ISR holds 0x${isr.toString(16)}`;
  const table = f.pci.msix.tableSize;
  const badVector = (v: number) => v !== VIRTIO_MSI_NO_VECTOR && (v < 0 || v >= table);
  if (badVector(c.configMsixVector))
    return `${label}: config_msix_vector ${c.configMsixVector}, table of ${table}`;
  for (const [i, q] of f.pci.queues.entries()) {
    if (badVector(q.vector)) return `${label}: queue ${i} vector ${q.vector}, table of ${table}`;
    const inexact = [q.descTable, q.availRing, q.usedRing].find((a) => !Number.isSafeInteger(a) || a < 0);
    if (inexact !== undefined)
      return `${label}: queue ${i} holds ring address ${inexact}, no exact 64-bit value`;
    const problem = q.isActive ? queueProblem(mem, f.model.queueMaxSizes[i], q) : undefined;
    if (problem) return `${label}: queue ${i} is active though ${problem}`;
  }
  return undefined;
}

/** After a write of 0 to device_status: the function is back in its reset state (2.4, 4.1.4.3). */
function resetFinding(f: VirtioFunction): string | undefined {
  const c = f.pci.common;
  const label = f.model.debugLabel;
  if (c.status !== 0) return `${label}: device_status ${c.status} after a reset`;
  if (c.driverFeatures !== 0n || c.configMsixVector !== VIRTIO_MSI_NO_VECTOR)
    return `${label}: driver features or config vector kept over a reset`;
  if (f.model.lifecycle === "active") return `${label}: the model is still active after a reset`;
  for (const [i, q] of f.pci.queues.entries())
    if (q.ready || q.isActive || q.size !== q.maxSize || q.vector !== VIRTIO_MSI_NO_VECTOR)
      return `${label}: queue ${i} kept its setup over a reset`;
  return undefined;
}

/** After access `a`: what that access in particular must have done. */
export function accessFinding(m: PciMachine, a: GuestAccess): string | undefined {
  if (!a.write || a.kind !== "mmio") return undefined;
  const register = m.virtioAt(a.addr);
  const reset = register?.offset === COMMON_DEVICE_STATUS && (a.value & 0xffn) === 0n;
  return reset ? resetFinding(register.f) : undefined;
}

/** After a sequence: every field (and the bytes past the structure) reads as a value of the access's size. */
export function commonReadsFinding(f: VirtioFunction): string | undefined {
  for (let offset = 0; offset < COMMON_CONFIG_SIZE + 8; offset++)
    for (const size of MMIO_SIZES) {
      const v = f.pci.common.read(offset, size);
      if (!Number.isInteger(v) || v < 0 || v >= 2 ** (8 * size))
        return `${f.model.debugLabel}: common configuration read of ${size} bytes at ${offset} gave ${v}`;
    }
  return undefined;
}

/** After a sequence: pending bits only for vectors of the table. */
export function pbaFinding(f: VirtioFunction): string | undefined {
  const msix = f.pci.msix;
  const bits = new Uint8Array(msix.pbaBytes);
  msix.readPba(0, bits);
  for (let v = msix.tableSize; v < bits.length * 8; v++)
    if (bits[v >> 3]! & (1 << (v & 7)))
      return `${f.model.debugLabel}: PBA bit ${v} set, table of ${msix.tableSize}`;
  return undefined;
}

/** What no guest write may change in `device`'s configuration space, as text to compare. */
export function identityOf(device: PciDevice): string {
  const read = (reg: number) => device.readConfigRegister(reg) >>> 0;
  const byteAt = configBytes(read);
  const caps = capabilities(byteAt).map((c) => `${c.offset}:${c.id}`);
  const bars = device.config.bars.map((b) => {
    const typeBits = b.kind === "io" ? IO_BAR_TYPE_BITS : MEM_BAR_TYPE_BITS;
    return `${b.index}:${read(PCI_BAR0 / 4 + b.index) & typeBits}`;
  });
  const ids = [read(PCI_VENDOR_ID / 4), read(PCI_CLASS_REVISION / 4), byteAt(PCI_HEADER_TYPE)];
  return `ids ${ids.join(",")} capabilities ${caps.join(",")} BAR types ${bars.join(",")}`;
}

/** A BAR whose address is not aligned to its size. */
export function barAlignmentFinding(device: PciDevice): string | undefined {
  for (const b of device.config.bars) {
    const reg = PCI_BAR0 / 4 + b.index;
    const low = device.readConfigRegister(reg) & ~(b.kind === "io" ? IO_BAR_TYPE_BITS : MEM_BAR_TYPE_BITS);
    const high = b.kind === "mem64" ? device.readConfigRegister(reg + 1) >>> 0 : 0;
    const aligned =
      (low >>> 0) % Math.min(b.size, 2 ** 32) === 0 && high % Math.max(1, b.size / 2 ** 32) === 0;
    if (!aligned)
      return `${device.debugLabel}: BAR ${b.index} (${b.size} bytes) at 0x${high.toString(16)}_${(low >>> 0).toString(16)}`;
  }
  return undefined;
}
