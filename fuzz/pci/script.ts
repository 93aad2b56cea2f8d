// What a guest does to the PCI side, as a list of operations: bus accesses, and "publish a chain" (the driver puts
// a buffer in a queue it set up, a write to guest RAM the device sees only once notified). A Script collects them
// and words configuration accesses for either mechanism: CONFIG_ADDRESS at 0xCF8 then the data port 0xCFC-0xCFF
// (registers below 256 only), or the function's 4 KiB of the ECAM window.
import { CONFIG_ADDRESS_ENABLE } from "../../src/devices/pci/config_address.ts";
import { CONFIG_DATA_OFFSET } from "../../src/devices/pci/config_io_presence.ts";
import { PCI_CONFIG_SPACE_SIZE } from "../../src/devices/pci/config_space.ts";
import { PCI_CONFIG_IO_BASE, PCIE_ECAM_BASE, type PciAddress } from "../../src/devices/pci/pci_root.ts";
import type { Rng } from "../random.ts";
import { type AccessSize, type GuestAccess, readAt, writeAt } from "./guest_access.ts";

/** The driver publishes one chain on queue `queue` of virtio function `fn` (PciMachine.virtio). */
export interface ChainOp {
  readonly kind: "chain";
  readonly fn: number;
  readonly queue: number;
}

export type GuestOp = GuestAccess | ChainOp;

export type ConfigMechanism = "ports" | "ecam";

/** CONFIG_ADDRESS for dword `offset` of function `a` (PCI 3.0 section 3.2.2.3.2). */
export const configAddress = (a: PciAddress, offset: number): number =>
  (CONFIG_ADDRESS_ENABLE | (a.bus << 16) | (a.device << 11) | (a.function << 8) | (offset & 0xfc)) >>> 0;

/** Where byte `offset` of function `a` is in the ECAM window (PCIe 4.0 section 7.2.2). */
export const ecamAddress = (a: PciAddress, offset: number): number =>
  PCIE_ECAM_BASE + ((a.bus << 20) | (a.device << 15) | (a.function << 12) | offset);

export class Script {
  readonly ops: GuestOp[] = [];

  constructor(
    readonly rng: Rng,
    /** The mechanism most configuration accesses take (Linux: ECAM once the MCFG is parsed). */
    readonly mechanism: ConfigMechanism,
  ) {}

  #mechanismFor(offset: number): ConfigMechanism {
    if (offset >= PCI_CONFIG_SPACE_SIZE) return "ecam";
    return this.rng.chance(0.9) ? this.mechanism : this.mechanism === "ecam" ? "ports" : "ecam";
  }

  #config(a: PciAddress, offset: number, size: AccessSize, write: boolean, value: bigint | number): void {
    if (this.#mechanismFor(offset) === "ecam") {
      const addr = ecamAddress(a, offset);
      this.ops.push(write ? writeAt("mmio", addr, size, value) : readAt("mmio", addr, size));
      return;
    }
    const data = PCI_CONFIG_IO_BASE + CONFIG_DATA_OFFSET + (offset & 3);
    this.ops.push(writeAt("io", PCI_CONFIG_IO_BASE, 4, configAddress(a, offset)));
    this.ops.push(write ? writeAt("io", data, size, value) : readAt("io", data, size));
  }

  configRead(a: PciAddress, offset: number, size: AccessSize): void {
    this.#config(a, offset, size, false, 0);
  }

  configWrite(a: PciAddress, offset: number, size: AccessSize, value: bigint | number): void {
    this.#config(a, offset, size, true, value);
  }

  read(addr: number, size: AccessSize): void {
    this.ops.push(readAt("mmio", addr, size));
  }

  write(addr: number, size: AccessSize, value: bigint | number): void {
    this.ops.push(writeAt("mmio", addr, size, value));
  }

  chain(fn: number, queue: number): void {
    this.ops.push({ kind: "chain", fn, queue });
  }
}
