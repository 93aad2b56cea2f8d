// How Linux's PCI core meets a function (drivers/pci/probe.c), as Script operations: the ID, header type and class;
// with decoding off, every BAR sized (original read, all-ones written, the mask read back, the original restored; a
// 64-bit BAR's upper half the same); decoding back on with bus mastering; the capability list walked. A bridge's
// windows are probed as pci_read_bridge_windows does, and a hot-plug root port set up as pciehp does: MSI
// programmed and enabled, slot events cleared, their interrupts enabled, the slot powered on.
import {
  PCI_BAR0,
  PCI_BAR_COUNT,
  PCI_CLASS_REVISION,
  PCI_COMMAND,
  PCI_COMMAND_IO,
  PCI_COMMAND_MASTER,
  PCI_COMMAND_MEMORY,
  PCI_HEADER_TYPE,
  PCI_STATUS,
  PCI_VENDOR_ID,
} from "../../src/devices/pci/config_space.ts";
import {
  MSI_ADDRESS_HI,
  MSI_ADDRESS_LO,
  MSI_CONTROL,
  MSI_DATA,
  MSI_ENABLE,
} from "../../src/devices/pci/msi.ts";
import type { PciAddress } from "../../src/devices/pci/pci_root.ts";
import {
  PCI_EXP_SLTCAP,
  PCI_EXP_SLTCTL,
  PCI_EXP_SLTCTL_DLLSCE,
  PCI_EXP_SLTCTL_HPIE,
  PCI_EXP_SLTCTL_PDCE,
  PCI_EXP_SLTSTA,
  PCI_EXP_SLTSTA_EVENTS,
  PCI_BRIDGE_CONTROL,
  PCI_HEADER_TYPE_BRIDGE,
  PCI_IO_BASE,
  PCI_MEMORY_BASE,
  PCI_PREF_MEMORY_BASE,
  PCI_PRIMARY_BUS,
  type PcieRootPort,
} from "../../src/devices/pci/pcie_root_port.ts";
import { capabilities, configBytes } from "./capabilities.ts";
import type { PciFunction } from "./pci_machine.ts";
import type { Script } from "./script.ts";

/** A type 1 header has BAR0 and BAR1 only (PCI-to-PCI Bridge spec 1.2 section 3.2). */
const BRIDGE_BARS = 2;
/** What pci_read_bridge_windows writes to learn whether a bridge has an I/O or a prefetchable window. */
const IO_WINDOW_PROBE = 0xe0f0;
const PREF_WINDOW_PROBE = 0xffe0fff0;
/** Where Linux points MSI messages: the local APIC's address range (x86). */
export const MSI_ADDRESS = 0xfee0_0000;

/** Reads dword `offset`, writes all-ones, reads the mask back and restores what it read. */
function sizeRegister(s: Script, f: PciFunction, offset: number): void {
  const original = f.device.readConfigRegister(offset >> 2);
  s.configRead(f.address, offset, 4);
  s.configWrite(f.address, offset, 4, 0xffff_ffff);
  s.configRead(f.address, offset, 4);
  s.configWrite(f.address, offset, 4, original);
}

/** Bus numbers read, the windows probed, the memory window and bridge control written back as read. */
function probeBridgeWindows(s: Script, f: PciFunction): void {
  const a = f.address;
  s.configRead(a, PCI_PRIMARY_BUS, 4);
  s.configRead(a, PCI_MEMORY_BASE, 4);
  s.configWrite(a, PCI_MEMORY_BASE, 4, f.device.readConfigRegister(PCI_MEMORY_BASE >> 2));
  const byteAt = configBytes((reg) => f.device.readConfigRegister(reg));
  s.configRead(a, PCI_BRIDGE_CONTROL, 2);
  s.configWrite(a, PCI_BRIDGE_CONTROL, 2, byteAt(PCI_BRIDGE_CONTROL) | (byteAt(PCI_BRIDGE_CONTROL + 1) << 8));
  s.configRead(a, PCI_IO_BASE, 2);
  s.configWrite(a, PCI_IO_BASE, 2, IO_WINDOW_PROBE);
  s.configRead(a, PCI_IO_BASE, 2);
  s.configWrite(a, PCI_IO_BASE, 2, 0);
  s.configRead(a, PCI_PREF_MEMORY_BASE, 4);
  s.configWrite(a, PCI_PREF_MEMORY_BASE, 4, PREF_WINDOW_PROBE);
  s.configRead(a, PCI_PREF_MEMORY_BASE, 4);
  s.configWrite(a, PCI_PREF_MEMORY_BASE, 4, 0);
}

/** Linux's scan of function `f`: identity, BAR sizing, decoding on, capability walk (reading each one whole). */
export function enumerate(s: Script, f: PciFunction): void {
  const a = f.address;
  const config = f.device.config;
  const byteAt = configBytes((reg) => f.device.readConfigRegister(reg));
  s.configRead(a, PCI_VENDOR_ID, 4);
  s.configRead(a, PCI_HEADER_TYPE, 1);
  s.configRead(a, PCI_CLASS_REVISION, 4);
  // Bit 7 of the header type says "multi-function"; the layout is the rest.
  const bridge = (byteAt(PCI_HEADER_TYPE) & 0x7f) === PCI_HEADER_TYPE_BRIDGE;
  s.configRead(a, PCI_COMMAND, 2);
  s.configWrite(a, PCI_COMMAND, 2, config.command & ~(PCI_COMMAND_IO | PCI_COMMAND_MEMORY));
  for (let i = 0; i < (bridge ? BRIDGE_BARS : PCI_BAR_COUNT); i++) {
    sizeRegister(s, f, PCI_BAR0 + 4 * i);
    if (config.bar(i)?.kind === "mem64") sizeRegister(s, f, PCI_BAR0 + 4 * ++i);
  }
  if (bridge) probeBridgeWindows(s, f);
  s.configWrite(a, PCI_COMMAND, 2, config.command | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
  s.configRead(a, PCI_STATUS, 2);
  for (const cap of capabilities(byteAt)) {
    s.configRead(a, cap.offset, 2);
    for (let at = 0; at < cap.length; at += 4) s.configRead(a, cap.offset + at, 4);
  }
}

/** pciehp's setup of the port at `a`: MSI, slot events cleared, their interrupts on, the slot powered. */
export function setUpHotplugPort(s: Script, port: PcieRootPort, a: PciAddress, vector: number): void {
  s.configWrite(a, port.msiCap + MSI_ADDRESS_LO, 4, MSI_ADDRESS);
  s.configWrite(a, port.msiCap + MSI_ADDRESS_HI, 4, 0);
  s.configWrite(a, port.msiCap + MSI_DATA, 2, vector);
  s.configWrite(a, port.msiCap + MSI_CONTROL, 2, MSI_ENABLE);
  s.configRead(a, port.pcieCap + PCI_EXP_SLTCAP, 4);
  s.configRead(a, port.pcieCap + PCI_EXP_SLTSTA, 2);
  s.configWrite(a, port.pcieCap + PCI_EXP_SLTSTA, 2, PCI_EXP_SLTSTA_EVENTS);
  // Power Controller Control 0 (power on) with the presence and link events' interrupts enabled.
  s.configWrite(
    a,
    port.pcieCap + PCI_EXP_SLTCTL,
    2,
    PCI_EXP_SLTCTL_HPIE | PCI_EXP_SLTCTL_PDCE | PCI_EXP_SLTCTL_DLLSCE,
  );
  s.configRead(a, port.pcieCap + PCI_EXP_SLTCTL, 4);
}
