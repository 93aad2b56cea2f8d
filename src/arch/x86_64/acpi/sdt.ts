// The common 36-byte header of ACPI system description tables (ACPI 6.4 §5.2.6 Table 5.4) with the identity
// crosvm writes (acpi_tables/src/sdt.rs, x86_64/src/acpi.rs): OEM "CROSVM"/"CROSVMDT" revision 1, creator "CROS" 0.
import { LeBytes, fixChecksum } from "../bytes.ts";

export const SDT_HEADER_SIZE = 36;
export const SDT_LENGTH_OFFSET = 4;
export const SDT_CHECKSUM_OFFSET = 9;
export const OEM_ID = "CROSVM";
export const OEM_TABLE_ID = "CROSVMDT";
export const OEM_REVISION = 1;
export const CREATOR_ID = "CROS";
export const CREATOR_REVISION = 0;

/** A table being built: a fixed-size part (header + fields) followed by appended variable entries. */
export class Sdt {
  #fixed: LeBytes;
  #tail: Uint8Array[] = [];

  constructor(signature: string, fixedLength: number, revision: number) {
    if (signature.length !== 4 || fixedLength < SDT_HEADER_SIZE)
      throw new RangeError("bad ACPI table header");
    this.#fixed = LeBytes.zeroed(fixedLength)
      .setAscii(0, signature)
      .setU8(8, revision)
      .setAscii(10, OEM_ID, 6)
      .setAscii(16, OEM_TABLE_ID, 8)
      .setU32(24, OEM_REVISION)
      .setAscii(28, CREATOR_ID, 4)
      .setU32(32, CREATOR_REVISION);
  }

  /** The fixed part, for setting table fields by offset. */
  get fields(): LeBytes {
    return this.#fixed;
  }

  append(bytes: Uint8Array): this {
    this.#tail.push(bytes);
    return this;
  }

  /** The finished table with its length and checksum filled in. */
  bytes(): Uint8Array {
    const length = this.#fixed.length + this.#tail.reduce((n, b) => n + b.length, 0);
    const out = new Uint8Array(length);
    out.set(this.#fixed.bytes, 0);
    let at = this.#fixed.length;
    for (const b of this.#tail) {
      out.set(b, at);
      at += b.length;
    }
    new LeBytes(out).setU32(SDT_LENGTH_OFFSET, length);
    fixChecksum(out, SDT_CHECKSUM_OFFSET);
    return out;
  }
}
