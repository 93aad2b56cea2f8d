// Extended System Description Table (ACPI 6.4 §5.2.8): the header followed by 64-bit table addresses.
import { LeBytes } from "../bytes.ts";
import { SDT_HEADER_SIZE, Sdt } from "./sdt.ts";

export const XSDT_REVISION = 1;

export function buildXsdt(tableAddrs: readonly number[]): Uint8Array {
  const xsdt = new Sdt("XSDT", SDT_HEADER_SIZE, XSDT_REVISION);
  for (const addr of tableAddrs) xsdt.append(LeBytes.zeroed(8).setU64(0, addr).bytes);
  return xsdt.bytes();
}
