// A function's capability list as a driver walks it (PCI 3.0 section 6.7): the pointer at 0x34, then each
// capability's ID at +0 and the next pointer at +1, until a zero pointer. The walk stops at a pointer seen before
// or outside the 256 bytes, as Linux's pci_find_next_cap_ttl bounds it.
import { PCI_CAPABILITY_LIST, PCI_CONFIG_SPACE_SIZE } from "../../src/devices/pci/config_space.ts";
import { MSI_CAP_LENGTH, PCI_CAP_ID_MSI } from "../../src/devices/pci/msi.ts";
import { MSIX_CAP_LENGTH, PCI_CAP_ID_MSIX } from "../../src/devices/pci/msix.ts";
import { PCI_CAP_ID_EXP, PCI_EXP_CAP_LENGTH } from "../../src/devices/pci/pcie_root_port.ts";
import { PCI_CAP_ID_VNDR } from "../../src/devices/virtio/virtio_pci_device.ts";

export interface Capability {
  readonly offset: number;
  readonly id: number;
  /** Bytes a driver reads of it. */
  readonly length: number;
}

/** Byte offsets of a capability's ID, next pointer and (vendor-specific ones) length. */
const CAP_ID = 0;
const CAP_NEXT = 1;
const CAP_VNDR_LEN = 2;

const FIXED_LENGTHS: ReadonlyMap<number, number> = new Map([
  [PCI_CAP_ID_MSI, MSI_CAP_LENGTH],
  [PCI_CAP_ID_MSIX, MSIX_CAP_LENGTH],
  [PCI_CAP_ID_EXP, PCI_EXP_CAP_LENGTH],
]);

/** The capabilities reached from the list pointer, reading configuration bytes with `byteAt`. */
export function capabilities(byteAt: (offset: number) => number): Capability[] {
  const found: Capability[] = [];
  const seen = new Set<number>();
  for (let at = byteAt(PCI_CAPABILITY_LIST); at !== 0; at = byteAt(at + CAP_NEXT)) {
    if (seen.has(at) || at + CAP_VNDR_LEN >= PCI_CONFIG_SPACE_SIZE) break;
    seen.add(at);
    const id = byteAt(at + CAP_ID);
    const length = id === PCI_CAP_ID_VNDR ? byteAt(at + CAP_VNDR_LEN) : (FIXED_LENGTHS.get(id) ?? 4);
    found.push({ offset: at, id, length });
  }
  return found;
}

/** `byteAt` over a function's configuration registers as the guest reads them. */
export const configBytes =
  (readRegister: (reg: number) => number) =>
  (offset: number): number =>
    (readRegister(offset >> 2) >>> (8 * (offset & 3))) & 0xff;
