// Firmware ACPI Control Structure (ACPI 6.4 §5.2.10 Table 5.14), all zero but signature, length and version 1,
// as crosvm's (acpi_tables/src/facs.rs). It has no checksum.
import { LeBytes } from "../bytes.ts";

export const FACS_SIZE = 64;

export function buildFacs(): Uint8Array {
  return LeBytes.zeroed(FACS_SIZE).setAscii(0, "FACS").setU32(4, FACS_SIZE).setU8(32, 1).bytes;
}
