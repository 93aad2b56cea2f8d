// Root System Description Pointer, revision 2 (ACPI 6.4 §5.2.5.3 Table 5.3): found by the guest scanning
// 0xE0000..0xFFFFF; it points only at the XSDT (RsdtAddress 0), as crosvm's (acpi_tables/src/rsdp.rs).
import { LeBytes, fixChecksum } from "../bytes.ts";
import { OEM_ID } from "./sdt.ts";

export const RSDP_SIZE = 36;
/** The ACPI 1.0 part covered by `checksum` (byte 8); `extended_checksum` (byte 32) covers all 36 bytes. */
export const RSDP_V1_SIZE = 20;

export function buildRsdp(xsdtAddr: number): Uint8Array {
  const rsdp = LeBytes.zeroed(RSDP_SIZE)
    .setAscii(0, "RSD PTR ")
    .setAscii(9, OEM_ID, 6)
    .setU8(15, 2)
    .setU32(16, 0)
    .setU32(20, RSDP_SIZE)
    .setU64(24, xsdtAddr);
  const v1 = rsdp.bytes.subarray(0, RSDP_V1_SIZE);
  fixChecksum(v1, 8);
  fixChecksum(rsdp.bytes, 32);
  return rsdp.bytes;
}
