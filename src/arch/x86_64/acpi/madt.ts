// Multiple APIC Description Table, revision 5 (ACPI 6.4 §5.2.12), as crosvm's (x86_64/src/acpi.rs): the local APIC
// address, PCAT_COMPAT (KVM's irqchip has the two 8259s), one enabled Processor Local APIC per vCPU (UID = APIC ID =
// index), one IOAPIC (ID 0, GSI base 0), and level/active-low interrupt source overrides for the PCI INTx GSIs.
// There is no IRQ0 -> GSI2 override: KVM's default routing wires GSI 0 to IOAPIC pin 0.
import { LeBytes } from "../bytes.ts";
import { IOAPIC_ADDR, LAPIC_ADDR } from "../layout.ts";
import { SDT_HEADER_SIZE, Sdt } from "./sdt.ts";

export const MADT_REVISION = 5;
/** Header, local APIC address, flags; then the interrupt controller structures. */
export const MADT_ENTRIES_OFFSET = SDT_HEADER_SIZE + 8;
export const MADT_FLAG_PCAT_COMPAT = 1;
export const MADT_TYPE_LOCAL_APIC = 0;
export const MADT_TYPE_IO_APIC = 1;
export const MADT_TYPE_INTERRUPT_SOURCE_OVERRIDE = 2;
export const MADT_LOCAL_APIC_ENABLED = 1;
/** MPS INTI flags (Table 5.26): polarity bits 1:0 = 3 active low, trigger bits 3:2 = 3 level. */
export const MPS_INTI_ACTIVE_LOW = 0b11;
export const MPS_INTI_LEVEL = 0b11 << 2;

export interface MadtOptions {
  readonly cpus: number;
  /** GSIs of PCI INTx lines; each gets a level/active-low override (deduplicated). */
  readonly pciGsis?: readonly number[];
}

export function buildMadt(o: MadtOptions): Uint8Array {
  const madt = new Sdt("APIC", MADT_ENTRIES_OFFSET, MADT_REVISION);
  madt.fields.setU32(SDT_HEADER_SIZE, LAPIC_ADDR).setU32(SDT_HEADER_SIZE + 4, MADT_FLAG_PCAT_COMPAT);
  for (let id = 0; id < o.cpus; id++) {
    madt.append(
      LeBytes.zeroed(8)
        .setU8(0, MADT_TYPE_LOCAL_APIC)
        .setU8(1, 8)
        .setU8(2, id)
        .setU8(3, id)
        .setU32(4, MADT_LOCAL_APIC_ENABLED).bytes,
    );
  }
  madt.append(
    LeBytes.zeroed(12)
      .setU8(0, MADT_TYPE_IO_APIC)
      .setU8(1, 12)
      .setU8(2, 0)
      .setU32(4, IOAPIC_ADDR)
      .setU32(8, 0).bytes,
  );
  for (const gsi of [...new Set(o.pciGsis ?? [])].sort((a, b) => a - b)) {
    madt.append(
      LeBytes.zeroed(10)
        .setU8(0, MADT_TYPE_INTERRUPT_SOURCE_OVERRIDE)
        .setU8(1, 10)
        .setU8(2, 0) // bus 0 = ISA
        .setU8(3, gsi)
        .setU32(4, gsi)
        .setU16(8, MPS_INTI_ACTIVE_LOW | MPS_INTI_LEVEL).bytes,
    );
  }
  return madt.bytes();
}
