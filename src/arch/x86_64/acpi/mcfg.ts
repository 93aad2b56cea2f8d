// PCI Express memory-mapped configuration table (PCI Firmware Spec 3.0 §4.1.2 "MCFG Table Description"): one
// allocation for segment 0 covering the ECAM window (crosvm x86_64/src/acpi.rs MCFG_*).
import { LeBytes } from "../bytes.ts";
import { SDT_HEADER_SIZE, Sdt } from "./sdt.ts";

export const MCFG_REVISION = 1;
/** Header, 8 reserved bytes, then 16-byte allocation entries. */
export const MCFG_ENTRIES_OFFSET = SDT_HEADER_SIZE + 8;
export const MCFG_ENTRY_SIZE = 16;

export function buildMcfg(ecamBase: number, startBus: number, endBus: number): Uint8Array {
  const entry = LeBytes.zeroed(MCFG_ENTRY_SIZE)
    .setU64(0, ecamBase)
    .setU16(8, 0)
    .setU8(10, startBus)
    .setU8(11, endBus);
  return new Sdt("MCFG", MCFG_ENTRIES_OFFSET, MCFG_REVISION).append(entry.bytes).bytes();
}
