// The data-in of the commands that describe the disk: INQUIRY (standard data and VPD pages 00h, 80h, 83h, B0h,
// B2h; SPC-4 6.6, 7.8; SBC-3 6.6), MODE SENSE(6)/(10) with the pages Linux asks for (SPC-4 7.5, SBC-3 6.4), READ
// CAPACITY(10)/(16) (SBC-3 5.16, 5.17) and REPORT LUNS (SPC-4 6.33). Each is at most a few hundred bytes, built
// whole and cut to the command's ALLOCATION LENGTH by the caller.
import { NO_LOGICAL_UNIT, TYPE_DISK } from "./constants.ts";

/** What the responses need to know of a logical unit. */
export interface UnitDescription {
  /** Number of logical blocks. */
  readonly blocks: number;
  readonly blockSize: number;
  readonly readOnly: boolean;
  /** Unit serial number (VPD 80h) and the tail of the T10 vendor designator (VPD 83h): printable ASCII. */
  readonly serial: string;
  /** Largest transfer of one READ or WRITE, in blocks (VPD B0h). */
  readonly maxTransferBlocks: number;
  /** Largest WRITE SAME, in blocks (VPD B0h). */
  readonly maxWriteSameBlocks: number;
  /** Most block descriptors in one UNMAP parameter list (VPD B0h). */
  readonly maxUnmapDescriptors: number;
}

export const VENDOR = "CROSVM";
export const PRODUCT = "CROSVM HARDDISK";
export const REVISION = "0.1";
/** VPD pages this disk has, in ascending order (VPD 00h lists them). */
export const VPD_PAGES = [0x00, 0x80, 0x83, 0xb0, 0xb2] as const;
/** Standard INQUIRY data is 36 bytes (SPC-4 table 142, up to the product revision level). */
export const STANDARD_INQUIRY_SIZE = 36;

function ascii(out: Uint8Array, at: number, width: number, text: string): void {
  for (let i = 0; i < width; i++) out[at + i] = i < text.length ? text.charCodeAt(i) : 0x20;
}

/** Standard INQUIRY data; `present` false gives the "no logical unit" answer for an unused LUN. */
export function standardInquiry(present: boolean): Uint8Array {
  const b = new Uint8Array(STANDARD_INQUIRY_SIZE);
  b[0] = present ? TYPE_DISK : NO_LOGICAL_UNIT;
  // VERSION 5: SPC-3 (Linux then tries READ CAPACITY(16) first and reads the VPD pages).
  b[2] = 0x05;
  // HISUP (hierarchical LUNs) and RESPONSE DATA FORMAT 2.
  b[3] = 0x12;
  b[4] = STANDARD_INQUIRY_SIZE - 5;
  // CMDQUE: command queuing.
  b[7] = 0x02;
  ascii(b, 8, 8, VENDOR);
  ascii(b, 16, 16, PRODUCT);
  ascii(b, 32, 4, REVISION);
  return b;
}

function be16(b: Uint8Array, at: number, v: number): void {
  b[at] = (v >> 8) & 0xff;
  b[at + 1] = v & 0xff;
}

function be32(b: Uint8Array, at: number, v: number): void {
  new DataView(b.buffer, b.byteOffset).setUint32(at, Math.min(v, 0xffff_ffff));
}

function be64(b: Uint8Array, at: number, v: number): void {
  new DataView(b.buffer, b.byteOffset).setBigUint64(at, BigInt(v));
}

/** A VPD page's 4-byte header and `body`: PAGE LENGTH counts the body. */
function vpdPage(page: number, body: Uint8Array): Uint8Array {
  const b = new Uint8Array(4 + body.length);
  b[0] = TYPE_DISK;
  b[1] = page;
  be16(b, 2, body.length);
  b.set(body, 4);
  return b;
}

/** VPD page `page`, or undefined when the disk has no such page. */
export function vpdInquiry(page: number, unit: UnitDescription): Uint8Array | undefined {
  switch (page) {
    case 0x00:
      return vpdPage(page, Uint8Array.from(VPD_PAGES));
    case 0x80: {
      const body = new Uint8Array(unit.serial.length);
      ascii(body, 0, body.length, unit.serial);
      return vpdPage(page, body);
    }
    case 0x83: {
      // One designator (SPC-4 7.8.6): CODE SET 2 (ASCII), ASSOCIATION 0 (the logical unit), TYPE 1 (T10 vendor
      // ID: 8 bytes of vendor, then vendor-specific text).
      const id = `${VENDOR.padEnd(8)}${unit.serial}`;
      const body = new Uint8Array(4 + id.length);
      body[0] = 0x02;
      body[1] = 0x01;
      body[3] = id.length;
      ascii(body, 4, id.length, id);
      return vpdPage(page, body);
    }
    case 0xb0: {
      // Block Limits (SBC-3 6.6.4), page length 3Ch.
      const body = new Uint8Array(0x3c);
      // WSNZ: a WRITE SAME of 0 blocks (meaning "to the end") is refused.
      body[0] = 0x01;
      be32(body, 4, unit.maxTransferBlocks);
      be32(body, 16, 0xffff_ffff); // MAXIMUM UNMAP LBA COUNT
      be32(body, 20, unit.maxUnmapDescriptors);
      be32(body, 24, 1); // OPTIMAL UNMAP GRANULARITY
      be64(body, 32, unit.maxWriteSameBlocks);
      return vpdPage(page, body);
    }
    case 0xb2: {
      // Logical Block Provisioning (SBC-3 6.6.5): UNMAP, WRITE SAME(16) and (10) with UNMAP; thin provisioned.
      const body = new Uint8Array(4);
      body[1] = 0x80 | 0x40 | 0x20;
      body[2] = 0x02;
      return vpdPage(page, body);
    }
    default:
      return undefined;
  }
}

/** READ CAPACITY(10) data: the last LBA (FFFFFFFFh when it does not fit: use (16)) and the block length. */
export function readCapacity10(unit: UnitDescription): Uint8Array {
  const b = new Uint8Array(8);
  be32(b, 0, Math.max(0, unit.blocks - 1));
  be32(b, 4, unit.blockSize);
  return b;
}

/** READ CAPACITY(16) parameter data (32 bytes): last LBA, block length, LBPME (thin provisioned). */
export function readCapacity16(unit: UnitDescription): Uint8Array {
  const b = new Uint8Array(32);
  be64(b, 0, Math.max(0, unit.blocks - 1));
  be32(b, 8, unit.blockSize);
  // LBPME: logical block provisioning (UNMAP) is enabled.
  b[14] = 0x80;
  return b;
}

/** REPORT LUNS parameter data: one LUN, 0 (single-level addressing). */
export function reportLuns(): Uint8Array {
  const b = new Uint8Array(16);
  be32(b, 0, 8);
  return b;
}

/** Mode pages this disk has, in ascending order (page code 3Fh returns them all). */
export const MODE_PAGES = [0x01, 0x08, 0x0a] as const;

/**
 * Mode page `page` (its code, length and parameters) for page control `pc` (0 current, 1 changeable: nothing
 * is, 2 default); undefined for a page the disk does not have.
 */
export function modePage(page: number, pc: number): Uint8Array | undefined {
  let b: Uint8Array;
  switch (page) {
    case 0x01: // Read-Write Error Recovery (SBC-3 6.4.7)
      b = new Uint8Array(12);
      break;
    case 0x08: // Caching (SBC-3 6.4.5): WCE, so that the guest sends SYNCHRONIZE CACHE for durability.
      b = new Uint8Array(20);
      if (pc !== 1) b[2] = 0x04;
      break;
    case 0x0a: // Control (SPC-4 7.5.8)
      b = new Uint8Array(12);
      break;
    default:
      return undefined;
  }
  b[0] = page;
  b[1] = b.length - 2;
  return b;
}

/**
 * MODE SENSE data: the mode parameter header ((6): 4 bytes, (10): 8 bytes) with WP for a read-only disk, a short
 * LBA block descriptor unless `dbd`, then `pages`.
 */
export function modeSenseData(
  ten: boolean,
  dbd: boolean,
  pages: readonly Uint8Array[],
  unit: UnitDescription,
) {
  const header = ten ? 8 : 4;
  const descriptor = dbd ? 0 : 8;
  const total = header + descriptor + pages.reduce((n, p) => n + p.length, 0);
  const b = new Uint8Array(total);
  const wp = unit.readOnly ? 0x80 : 0;
  if (ten) {
    be16(b, 0, total - 2);
    b[3] = wp;
    be16(b, 6, descriptor);
  } else {
    b[0] = total - 1;
    b[2] = wp;
    b[3] = descriptor;
  }
  if (descriptor > 0) {
    // Short LBA mode parameter block descriptor (SBC-3 6.4.2.2): block count (FFFFFFFFh if larger), block length.
    be32(b, header, unit.blocks);
    b[header + 5] = (unit.blockSize >> 16) & 0xff;
    be16(b, header + 6, unit.blockSize & 0xffff);
  }
  let at = header + descriptor;
  for (const p of pages) {
    b.set(p, at);
    at += p.length;
  }
  return b;
}
