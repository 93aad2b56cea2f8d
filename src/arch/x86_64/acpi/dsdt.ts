// Differentiated System Description Table (ACPI 6.4 §5.2.11.1) holding the AML crosvm puts there
// (x86_64/src/lib.rs setup_acpi_devices): the ACPI PM device's sleep states, the PCI host bridge \_SB_.PC00 and the
// \_SB_.MB00 motherboard device reserving the ECAM window. Linux finds the PCI root bus only through a PNP0A08 /
// PNP0A03 device when ACPI is on, so the host bridge must be here for PCI devices to be seen.
import * as aml from "./aml.ts";
import { SDT_HEADER_SIZE, Sdt } from "./sdt.ts";

export const DSDT_REVISION = 6;

/**
 * SLP_TYP values the ACPI PM device decodes from PM1 control bits 12:10 (crosvm devices/src/acpi.rs: SLEEP_TYPE_S1
 * = 1, SLEEP_TYPE_S5 = 0). The DSDT's \_S1_/\_S5_ packages hand them to the guest, which writes them with SLP_EN
 * to suspend or power off.
 */
export const SLP_TYP_S1 = 1;
export const SLP_TYP_S5 = 0;

/** Name(_S1_, Package() {1, 1, 0, 0}) and Name(_S5_, Package() {0, 0, 0, 0}) (§7.4.2 "\_Sx system states"). */
export function sleepStatesAml(): Uint8Array {
  return aml.concat([
    aml.name("_S1_", aml.pkg([aml.int(SLP_TYP_S1), aml.int(SLP_TYP_S1), aml.int(0), aml.int(0)])),
    aml.name("_S5_", aml.pkg([aml.int(SLP_TYP_S5), aml.int(SLP_TYP_S5), aml.int(0), aml.int(0)])),
  ]);
}

/** A PCI INTx route for _PRT: device `dev`'s pin (0 = INTA#) raises `gsi`. */
export interface PrtEntry {
  readonly dev: number;
  readonly pin: number;
  readonly gsi: number;
}

export interface PciRootOptions {
  readonly maxBus: number;
  /** Inclusive [start, end] of the PCI memory windows below and above 4 GiB. */
  readonly lowMmio: readonly [number, number];
  readonly highMmio?: readonly [bigint, bigint];
  readonly prt: readonly PrtEntry[];
  /**
   * Grant the OS native control of the PCIe features it asks for (_OSC), which Linux needs before its pciehp
   * drives the hot-plug root ports. Off (no _OSC, firmware keeps control) unless the VM has hot-plug slots, so a
   * VM without them sees the same tables as before.
   */
  readonly nativePcieControl?: boolean;
}

/**
 * Device(\_SB_.PC00): PCIe host bridge (PNP0A08, compatible PNP0A03) on segment 0 with its bus range, the 0xCF8
 * config ports, the MMIO windows, and the INTx routing table (_PRT: Package {address with function 0xFFFF, pin,
 * source 0, GSI}, §6.2.13). crosvm also provides _OSC; without it Linux keeps PCIe features under firmware control.
 */
export function pciRootBridgeAml(o: PciRootOptions): Uint8Array {
  const crs = [
    aml.wordBusNumber(0, o.maxBus),
    aml.ioPort(0xcf8, 0xcf8, 1, 8),
    aml.dwordMemory(o.lowMmio[0], o.lowMmio[1]),
  ];
  if (o.highMmio && o.highMmio[1] > o.highMmio[0]) crs.push(aml.qwordMemory(o.highMmio[0], o.highMmio[1]));
  const prt = o.prt.map((p) =>
    aml.pkg([aml.int(((p.dev << 16) | 0xffff) >>> 0), aml.int(p.pin), aml.int(0), aml.int(p.gsi)]),
  );
  return aml.device("\\_SB_.PC00", [
    aml.name("_HID", aml.eisaId("PNP0A08")),
    aml.name("_CID", aml.eisaId("PNP0A03")),
    aml.name("_ADR", aml.int(0)),
    aml.name("_SEG", aml.int(0)),
    aml.name("_UID", aml.int(0)),
    aml.name("_CRS", aml.resourceTemplate(crs)),
    aml.name("_PRT", aml.pkg(prt)),
    ...(o.nativePcieControl ? [oscGrantingAll()] : []),
  ]);
}

/**
 * Method(_OSC, 4) { Return(Arg3) }: the capabilities buffer comes back as the OS sent it, so Status (DWORD 1) has
 * no error bit and Control (DWORD 3) grants every feature the OS requested, native PCIe hot-plug among them (PCI
 * Firmware spec 3.2 section 4.5.1; ACPI 6.4 section 6.2.11). Linux (drivers/acpi/pci_root.c) then sets
 * native_pcie_hotplug on the host bridge and its port driver binds pciehp to the root ports.
 */
export function oscGrantingAll(): Uint8Array {
  return aml.method("_OSC", 4, [aml.ret(aml.arg(3))]);
}

/** Device(\_SB_.MB00): a PNP0C02 motherboard resource reserving the ECAM window, as Linux's MMCONFIG check wants. */
export function ecamReservationAml(base: number, size: number): Uint8Array {
  return aml.device("\\_SB_.MB00", [
    aml.name("_HID", aml.eisaId("PNP0C02")),
    aml.name("_CRS", aml.resourceTemplate([aml.memory32Fixed(base, size)])),
  ]);
}

/** The DSDT around `body` (AML term list). */
export function buildDsdt(body: readonly Uint8Array[]): Uint8Array {
  const dsdt = new Sdt("DSDT", SDT_HEADER_SIZE, DSDT_REVISION);
  for (const b of body) dsdt.append(b);
  return dsdt.bytes();
}
