// A PCI function as the root sees it, reporting every throw out of its configuration-space handlers before passing
// it on: PciRoot turns such a throw into an all-ones read or a dropped write, so the guest (and a fuzz target
// checking only the bus path) would never notice a function that breaks on some access. BAR accesses are passed on
// untouched; a throw there reaches the bus, where the target sees it.
import type { PciConfiguration } from "../../src/devices/pci/config_space.ts";
import type { PciDevice } from "../../src/devices/pci/pci_device.ts";
import type { Observer } from "../observer.ts";

export class ConfigThrowWatch implements PciDevice {
  readonly debugLabel: string;
  readonly config: PciConfiguration;

  constructor(
    readonly inner: PciDevice,
    readonly observer: Observer,
  ) {
    this.debugLabel = inner.debugLabel;
    this.config = inner.config;
  }

  #watch<T>(access: () => T, what: () => string): T {
    try {
      return access();
    } catch (e) {
      this.observer.finding(`${this.debugLabel}: ${what()} threw ${(e as Error).stack}`);
      throw e;
    }
  }

  readConfigRegister(reg: number): number {
    return this.#watch(
      () => this.inner.readConfigRegister(reg),
      () => `config read of register ${reg}`,
    );
  }

  writeConfigRegister(reg: number, offset: number, data: Uint8Array): void {
    this.#watch(
      () => this.inner.writeConfigRegister(reg, offset, data),
      () => `config write at register ${reg} + ${offset}`,
    );
  }

  readBar(index: number, offset: number, data: Uint8Array): void {
    this.inner.readBar(index, offset, data);
  }

  writeBar(index: number, offset: number, data: Uint8Array): void {
    this.inner.writeBar(index, offset, data);
  }
}
