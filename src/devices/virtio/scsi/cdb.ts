// Decoding a SCSI command descriptor block (SPC-4 4.2, SBC-3 5) into a typed command, apart from executing it.
// Every field the guest controls is checked here: reserved and unsupported bits (protection information,
// NACA), page codes are left to the executor, and 16-byte LBAs beyond 2^53 are refused (no disk has that many
// blocks). A CDB that cannot be one of the supported commands decodes to the sense data to answer it with.
import {
  INQUIRY,
  MODE_SENSE_10,
  MODE_SENSE_6,
  READ_10,
  READ_16,
  READ_6,
  READ_CAPACITY_10,
  REPORT_LUNS,
  REQUEST_SENSE,
  SAI_READ_CAPACITY_16,
  SERVICE_ACTION_IN_16,
  SYNCHRONIZE_CACHE_10,
  SYNCHRONIZE_CACHE_16,
  TEST_UNIT_READY,
  UNMAP,
  WRITE_10,
  WRITE_16,
  WRITE_6,
  WRITE_SAME_10,
  WRITE_SAME_16,
} from "./constants.ts";
import { SENSE, type Sense } from "./sense.ts";

/** The bytes of a CDB this decoder reads: the longest supported command is 16 bytes. */
export const CDB_DECODE_BYTES = 16;

export type ScsiCommand =
  | { readonly op: "test_unit_ready" }
  | { readonly op: "request_sense"; readonly allocLen: number }
  | { readonly op: "inquiry"; readonly evpd: boolean; readonly page: number; readonly allocLen: number }
  | {
      readonly op: "mode_sense";
      /** MODE SENSE(10) rather than (6): the header is 8 bytes instead of 4. */
      readonly ten: boolean;
      /** DBD: no block descriptor. */
      readonly dbd: boolean;
      /** PC: 0 current, 1 changeable, 2 default, 3 saved. */
      readonly pageControl: number;
      readonly page: number;
      readonly subpage: number;
      readonly allocLen: number;
    }
  | { readonly op: "read_capacity_10" }
  | { readonly op: "read_capacity_16"; readonly allocLen: number }
  | { readonly op: "read"; readonly lba: number; readonly blocks: number }
  | { readonly op: "write"; readonly lba: number; readonly blocks: number }
  /** blocks 0: from lba to the end. */
  | { readonly op: "synchronize_cache"; readonly lba: number; readonly blocks: number }
  | {
      readonly op: "write_same";
      readonly lba: number;
      readonly blocks: number;
      readonly unmap: boolean;
      /** NDOB (WRITE SAME(16) only): no data-out buffer, the block is zeros. */
      readonly noDataOut: boolean;
    }
  | { readonly op: "unmap"; readonly paramLen: number }
  | { readonly op: "report_luns"; readonly select: number; readonly allocLen: number };

export type DecodedCdb =
  ScsiCommand | { readonly op: "refused"; readonly sense: Sense; readonly reason: string };

const refused = (sense: Sense, reason: string): DecodedCdb => ({ op: "refused", sense, reason });
const invalid = (reason: string): DecodedCdb => refused(SENSE.invalidFieldInCdb, reason);

/** CDB length from the operation code's group (SPC-4 4.2.5.1); 0 for groups with no fixed length. */
export function cdbLength(opcode: number): number {
  switch (opcode >> 5) {
    case 0:
      return 6;
    case 1:
    case 2:
      return 10;
    case 4:
      return 16;
    case 5:
      return 12;
    default:
      return 0;
  }
}

/** NACA (bit 2 of the CONTROL byte, SAM-5 5.2): ACA is not supported, so a set NACA is an invalid field. */
const CONTROL_NACA = 0x04;
/** RDPROTECT / WRPROTECT (bits 7-5 of byte 1): no protection information here (SBC-3 4.22). */
const PROTECT_MASK = 0xe0;
const MAX_SAFE_LBA = BigInt(Number.MAX_SAFE_INTEGER);

/**
 * Decodes `cdb` (at least CDB_DECODE_BYTES bytes: the request's CDB field, zero-padded). Unknown operation codes
 * and service actions decode to INVALID COMMAND OPERATION CODE, bad fields to INVALID FIELD IN CDB.
 */
export function decodeCdb(cdb: Uint8Array): DecodedCdb {
  if (cdb.length < CDB_DECODE_BYTES) throw new RangeError(`a CDB buffer needs ${CDB_DECODE_BYTES} bytes`);
  const v = new DataView(cdb.buffer, cdb.byteOffset, cdb.byteLength);
  const op = cdb[0]!;
  const length = cdbLength(op);
  if (length > 0 && (cdb[length - 1]! & CONTROL_NACA) !== 0) return invalid("NACA is set");
  const lba16 = (): number | undefined => {
    const lba = v.getBigUint64(2);
    return lba > MAX_SAFE_LBA ? undefined : Number(lba);
  };
  switch (op) {
    case TEST_UNIT_READY:
      return { op: "test_unit_ready" };
    case REQUEST_SENSE:
      // DESC (byte 1 bit 0): descriptor-format sense is not supported.
      if (cdb[1]! & 0x01) return invalid("REQUEST SENSE asks for descriptor format");
      return { op: "request_sense", allocLen: cdb[4]! };
    case INQUIRY: {
      const evpd = (cdb[1]! & 0x01) !== 0;
      // CMDDT (bit 1) is obsolete; a PAGE CODE without EVPD is invalid (SPC-4 6.6.1).
      if (cdb[1]! & 0x02) return invalid("INQUIRY with CMDDT");
      if (!evpd && cdb[2] !== 0) return invalid(`INQUIRY page 0x${cdb[2]!.toString(16)} without EVPD`);
      return { op: "inquiry", evpd, page: cdb[2]!, allocLen: v.getUint16(3) };
    }
    case MODE_SENSE_6:
    case MODE_SENSE_10: {
      const ten = op === MODE_SENSE_10;
      return {
        op: "mode_sense",
        ten,
        dbd: (cdb[1]! & 0x08) !== 0,
        pageControl: cdb[2]! >> 6,
        page: cdb[2]! & 0x3f,
        subpage: cdb[3]!,
        allocLen: ten ? v.getUint16(7) : cdb[4]!,
      };
    }
    case READ_CAPACITY_10:
      return { op: "read_capacity_10" };
    case SERVICE_ACTION_IN_16:
      if ((cdb[1]! & 0x1f) !== SAI_READ_CAPACITY_16)
        return refused(
          SENSE.invalidOpcode,
          `SERVICE ACTION IN(16) action 0x${(cdb[1]! & 0x1f).toString(16)}`,
        );
      return { op: "read_capacity_16", allocLen: v.getUint32(10) };
    case READ_6:
    case WRITE_6: {
      // SBC-3 5.15: a TRANSFER LENGTH of 0 means 256 blocks.
      const lba = ((cdb[1]! & 0x1f) << 16) | (cdb[2]! << 8) | cdb[3]!;
      return { op: op === READ_6 ? "read" : "write", lba, blocks: cdb[4] || 256 };
    }
    case READ_10:
    case WRITE_10:
      if (cdb[1]! & PROTECT_MASK) return invalid("protection information requested");
      return { op: op === READ_10 ? "read" : "write", lba: v.getUint32(2), blocks: v.getUint16(7) };
    case READ_16:
    case WRITE_16: {
      if (cdb[1]! & PROTECT_MASK) return invalid("protection information requested");
      const lba = lba16();
      if (lba === undefined) return refused(SENSE.lbaOutOfRange, "LBA beyond 2^53");
      return { op: op === READ_16 ? "read" : "write", lba, blocks: v.getUint32(10) };
    }
    case SYNCHRONIZE_CACHE_10:
      return { op: "synchronize_cache", lba: v.getUint32(2), blocks: v.getUint16(7) };
    case SYNCHRONIZE_CACHE_16: {
      const lba = lba16();
      if (lba === undefined) return refused(SENSE.lbaOutOfRange, "LBA beyond 2^53");
      return { op: "synchronize_cache", lba, blocks: v.getUint32(10) };
    }
    case WRITE_SAME_10:
    case WRITE_SAME_16: {
      const sixteen = op === WRITE_SAME_16;
      if (cdb[1]! & PROTECT_MASK) return invalid("protection information requested");
      // ANCHOR (bit 4) is not supported (VPD page B2h has ANC_SUP 0); PBDATA/LBDATA (bits 2, 1) are obsolete.
      if (cdb[1]! & 0x16) return invalid("WRITE SAME with ANCHOR, PBDATA or LBDATA");
      const lba = sixteen ? lba16() : v.getUint32(2);
      if (lba === undefined) return refused(SENSE.lbaOutOfRange, "LBA beyond 2^53");
      return {
        op: "write_same",
        lba,
        blocks: sixteen ? v.getUint32(10) : v.getUint16(7),
        unmap: (cdb[1]! & 0x08) !== 0,
        noDataOut: sixteen && (cdb[1]! & 0x01) !== 0,
      };
    }
    case UNMAP:
      if (cdb[1]! & 0x01) return invalid("UNMAP with ANCHOR");
      return { op: "unmap", paramLen: v.getUint16(7) };
    case REPORT_LUNS:
      return { op: "report_luns", select: cdb[2]!, allocLen: v.getUint32(6) };
    default:
      return refused(SENSE.invalidOpcode, `operation code 0x${op.toString(16)}`);
  }
}
