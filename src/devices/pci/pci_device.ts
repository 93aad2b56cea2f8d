// What the PCI root needs from a function on the bus, and the adapter that puts one of its BARs on the MMIO bus.
import type { BusDevice } from "../bus.ts";
import type { PciConfiguration } from "./config_space.ts";

export interface PciDevice {
  readonly debugLabel: string;
  /** The header and capabilities; the root reads BAR layouts from it. */
  readonly config: PciConfiguration;
  /** Dword `reg` (0..63) of configuration space as the guest reads it. */
  readConfigRegister(reg: number): number;
  /** A guest write of `data` (1, 2 or 4 bytes) at byte `offset` within dword `reg`. Never throws. */
  writeConfigRegister(reg: number, offset: number, data: Uint8Array): void;
  /** An access to BAR `index` at `offset` from its start. Never throws. */
  readBar(index: number, offset: number, data: Uint8Array): void;
  writeBar(index: number, offset: number, data: Uint8Array): void;
}

/** One BAR of a PCI device as a BusDevice, inserted on the MMIO (or I/O) bus at the BAR's address. */
export class PciBarBusDevice implements BusDevice {
  readonly debugLabel: string;
  constructor(
    readonly device: PciDevice,
    readonly index: number,
  ) {
    this.debugLabel = `${device.debugLabel} BAR ${index}`;
  }
  read(offset: number, data: Uint8Array): void {
    this.device.readBar(this.index, offset, data);
  }
  write(offset: number, data: Uint8Array): void {
    this.device.writeBar(this.index, offset, data);
  }
}
