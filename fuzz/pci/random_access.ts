// Operations a hostile guest makes without a plan: configuration reads and writes of 1, 2 or 4 bytes, aligned or
// not, at any offset of any function, present or absent, through either mechanism; raw accesses to 0xCF8-0xCFF
// (CONFIG_ADDRESS with the enable bit off or reserved bits set, the reset control byte); MMIO of 1 to 8 bytes in a
// virtio BAR0, mostly at a register of one of its regions, or anywhere in the root port's window and ECAM; chains
// published on any queue, existing or not. Values are the ones that break registers: selectors and indices past
// the end, sizes that are no power of two, addresses around the edges of RAM, vectors past the table, status bits.
import { PCI_CAP_START, PCI_CONFIG_SPACE_SIZE } from "../../src/devices/pci/config_space.ts";
import {
  PCI_CONFIG_IO_BASE,
  PCI_CONFIG_IO_LEN,
  PCIE_ECAM_BASE,
  PCIE_ECAM_SIZE,
} from "../../src/devices/pci/pci_root.ts";
import {
  VIRTIO_MSI_NO_VECTOR,
  VIRTIO_STATUS_ACKNOWLEDGE,
  VIRTIO_STATUS_DEVICE_NEEDS_RESET,
  VIRTIO_STATUS_DRIVER,
  VIRTIO_STATUS_DRIVER_OK,
  VIRTIO_STATUS_FAILED,
  VIRTIO_STATUS_FEATURES_OK,
} from "../../src/devices/virtio/constants.ts";
import { COMMON_CONFIG_SIZE } from "../../src/devices/virtio/virtio_pci_common_config.ts";
import {
  DEVICE_CONFIG_OFFSET,
  ISR_OFFSET,
  MSIX_PBA_OFFSET,
  MSIX_TABLE_OFFSET,
  NOTIFY_OFF_MULTIPLIER,
  NOTIFY_OFFSET,
  VIRTIO_BAR_SIZE,
} from "../../src/devices/virtio/virtio_pci_device.ts";
import { RAM_EDGES } from "../guest_ram.ts";
import type { Rng } from "../random.ts";
import { capabilities, configBytes } from "./capabilities.ts";
import { MMIO_SIZES, NARROW_SIZES, readAt, writeAt } from "./guest_access.ts";
import { driverBar0, type PciMachine, type VirtioFunction } from "./pci_machine.ts";
import type { Script } from "./script.ts";

const STATUS_BITS = [
  VIRTIO_STATUS_ACKNOWLEDGE,
  VIRTIO_STATUS_DRIVER,
  VIRTIO_STATUS_FEATURES_OK,
  VIRTIO_STATUS_DRIVER_OK,
  VIRTIO_STATUS_DEVICE_NEEDS_RESET,
  VIRTIO_STATUS_FAILED,
];
/** A function's share of the ECAM window: its configuration space with the PCIe extended part. */
const ECAM_FUNCTION_SIZE = 0x1000;

/** A value that breaks registers (see the header). */
export function hostileValue(rng: Rng): bigint {
  switch (rng.int(6)) {
    case 0:
      return BigInt(rng.u32());
    case 1:
      return BigInt.asUintN(64, rng.u64());
    case 2:
      return BigInt(rng.int(20));
    case 3:
      return BigInt(Math.max(0, rng.pick(RAM_EDGES) + rng.pick([-0x1000, -16, -2, -1, 0, 1, 2, 16])));
    case 4:
      return BigInt(VIRTIO_MSI_NO_VECTOR - rng.int(2));
    default:
      return BigInt(STATUS_BITS.filter(() => rng.chance(0.5)).reduce((a, b) => a | b, 0));
  }
}

/** An offset in a function's configuration space: the header (below the first capability), a capability, anywhere. */
function configOffset(rng: Rng, byteAt: (offset: number) => number): number {
  const caps = capabilities(byteAt);
  const kind = rng.int(10);
  if (kind < 4) return rng.int(PCI_CAP_START);
  if (kind < 7 && caps.length > 0) {
    const cap = rng.pick(caps);
    return cap.offset + rng.int(cap.length + 2);
  }
  return rng.int(rng.chance(0.7) ? PCI_CONFIG_SPACE_SIZE : ECAM_FUNCTION_SIZE);
}

function randomConfig(s: Script, m: PciMachine): void {
  const rng = s.rng;
  const present = rng.chance(0.9);
  const f = rng.pick(m.functions);
  const address = present
    ? f.address
    : { bus: rng.int(rng.chance(0.5) ? 4 : 256), device: rng.int(32), function: rng.int(8) };
  const size = rng.pick(NARROW_SIZES);
  let offset = configOffset(
    rng,
    configBytes((reg) => f.device.readConfigRegister(reg)),
  );
  if (rng.chance(0.8)) offset -= offset % size;
  if (rng.chance(0.5)) s.configWrite(address, offset, size, hostileValue(rng));
  else s.configRead(address, offset, size);
}

function randomPort(s: Script): void {
  const rng = s.rng;
  const addr = PCI_CONFIG_IO_BASE + rng.int(PCI_CONFIG_IO_LEN);
  const size = rng.pick(NARROW_SIZES);
  s.ops.push(rng.chance(0.4) ? readAt("io", addr, size) : writeAt("io", addr, size, hostileValue(rng)));
}

/** An offset in a virtio BAR0, mostly at a register of one of its regions. */
function barOffset(rng: Rng, f: VirtioFunction): number {
  const table = f.pci.msix.tableBytes;
  switch (rng.int(8)) {
    case 0:
    case 1:
    case 2:
      return rng.int(COMMON_CONFIG_SIZE + 8);
    case 3:
      return ISR_OFFSET + rng.int(4);
    case 4:
      return DEVICE_CONFIG_OFFSET + rng.int(0x100);
    case 5:
      return NOTIFY_OFFSET + NOTIFY_OFF_MULTIPLIER * rng.int(8) + (rng.chance(0.8) ? 0 : rng.int(4));
    case 6:
      return rng.chance(0.7) ? MSIX_TABLE_OFFSET + rng.int(table + 16) : MSIX_PBA_OFFSET + rng.int(16);
    default:
      return rng.int(VIRTIO_BAR_SIZE + 8);
  }
}

function randomMmio(s: Script, m: PciMachine): void {
  const rng = s.rng;
  const port = m.port;
  const where = rng.int(10);
  const f = rng.pick(m.virtio);
  const addr =
    where < 8
      ? driverBar0(f) + barOffset(rng, f)
      : where === 8
        ? port.windowBase + rng.int(port.windowSize)
        : PCIE_ECAM_BASE + rng.int(PCIE_ECAM_SIZE);
  const size = rng.pick(MMIO_SIZES);
  if (rng.chance(0.5)) s.write(addr, size, hostileValue(rng));
  else s.read(addr, size);
}

/** Appends one random operation. */
export function randomOp(s: Script, m: PciMachine): void {
  const kind = s.rng.int(10);
  if (kind < 3) randomConfig(s, m);
  else if (kind === 3) randomPort(s);
  else if (kind === 4) s.chain(s.rng.int(m.virtio.length), s.rng.int(6));
  else randomMmio(s, m);
}
