// One emulated SCSI disk (a logical unit, LUN 0 of its target) over a DiskFile from src/disk: executes a decoded
// command against its data-out (Reader) and data-in (Writer) buffers. Every guest number is checked before it
// drives work: LBA ranges against the capacity, transfer lengths against the buffers and the advertised limits
// (VPD B0h), UNMAP descriptor counts from the parameter list's header before any descriptor is read.
import type { DiskFile } from "../../../disk/disk_file.ts";
import { FormatChangeRefused } from "../../../disk/raw.ts";
import type { Reader, Writer } from "../descriptor_utils.ts";
import type { ScsiCommand } from "./cdb.ts";
import { MAX_SECTORS } from "./constants.ts";
import {
  MODE_PAGES,
  type UnitDescription,
  modePage,
  modeSenseData,
  readCapacity10,
  readCapacity16,
  reportLuns,
  standardInquiry,
  vpdInquiry,
} from "./responses.ts";
import { FIXED_SENSE_SIZE, SENSE, type Sense, fixedSense } from "./sense.ts";

/** Most block descriptors in one UNMAP (VPD B0h); the parameter list is then at most 8 + 16 * 256 bytes. */
export const MAX_UNMAP_DESCRIPTORS = 256;
const UNMAP_HEADER_SIZE = 8;
const UNMAP_DESCRIPTOR_SIZE = 16;
/** Largest WRITE SAME, in bytes (VPD B0h gives it in blocks): a bounded amount of work per command. */
export const MAX_WRITE_SAME_BYTES = 1 << 30;
/** A WRITE SAME of a non-zero block is written through a buffer of at most this size. */
const WRITE_SAME_CHUNK = 1 << 20;

/** How a command ended: GOOD, CHECK CONDITION with sense data, or a data buffer too small for the transfer. */
export type Outcome =
  | { readonly kind: "good" }
  /** `reason` is for the log ("" for none); `failed` marks a host I/O failure rather than a guest mistake. */
  | { readonly kind: "check"; readonly sense: Sense; readonly reason: string; readonly failed?: boolean }
  | { readonly kind: "overrun"; readonly reason: string };

const GOOD: Outcome = { kind: "good" };
const check = (sense: Sense, reason: string): Outcome => ({ kind: "check", sense, reason });

export interface LogicalUnitOptions {
  readonly disk: DiskFile;
  readonly readOnly: boolean;
  /** Logical block size: a power of two >= 512 (raised to the host device's if larger). */
  readonly blockSize: number;
  /** Target number, for the serial number. */
  readonly target: number;
}

export class LogicalUnit implements UnitDescription {
  readonly disk: DiskFile;
  readonly readOnly: boolean;
  readonly blockSize: number;
  readonly serial: string;
  readonly maxTransferBlocks: number;
  readonly maxWriteSameBlocks: number;
  readonly maxUnmapDescriptors = MAX_UNMAP_DESCRIPTORS;
  /** Whether a refused write that would change a probed raw image's format was logged (once, as QEMU). */
  formatChangeLogged = false;

  constructor(options: LogicalUnitOptions) {
    const { disk } = options;
    const blockSize = Math.max(options.blockSize, disk.logicalBlockSize?.() ?? 512);
    if (!Number.isInteger(blockSize) || blockSize < 512 || (blockSize & (blockSize - 1)) !== 0)
      throw new RangeError(`block size ${blockSize} is not a power of two >= 512`);
    this.disk = disk;
    this.readOnly = options.readOnly || disk.readOnly;
    this.blockSize = blockSize;
    this.serial = `crosvm-scsi-${options.target}`;
    this.maxTransferBlocks = Math.max(1, Math.floor((MAX_SECTORS * 512) / blockSize));
    this.maxWriteSameBlocks = MAX_WRITE_SAME_BYTES / blockSize;
  }

  /** Number of logical blocks (the image's size, rounded down to whole blocks). */
  get blocks(): number {
    return Math.floor(this.disk.virtualSize() / this.blockSize);
  }

  #inRange(lba: number, blocks: number): boolean {
    return lba + blocks <= this.blocks;
  }

  /** Executes `cmd`; throws only for a chain that runs short (the caller reports it). */
  execute(cmd: ScsiCommand, dataOut: Reader, dataIn: Writer): Outcome {
    switch (cmd.op) {
      case "test_unit_ready":
        return GOOD;
      case "request_sense":
        // Sense is returned with each command (autosense), so nothing is pending.
        return this.#dataIn(dataIn, fixedSense(SENSE.noSense), cmd.allocLen);
      case "inquiry": {
        if (!cmd.evpd) return this.#dataIn(dataIn, standardInquiry(true), cmd.allocLen);
        const page = vpdInquiry(cmd.page, this);
        if (page === undefined)
          return check(SENSE.invalidFieldInCdb, `VPD page 0x${cmd.page.toString(16)} is not supported`);
        return this.#dataIn(dataIn, page, cmd.allocLen);
      }
      case "mode_sense":
        return this.#modeSense(cmd, dataIn);
      case "read_capacity_10":
        return this.#dataIn(dataIn, readCapacity10(this), 8);
      case "read_capacity_16":
        return this.#dataIn(dataIn, readCapacity16(this), cmd.allocLen);
      case "report_luns":
        // SPC-4 6.33: an ALLOCATION LENGTH under 16 is an invalid field; SELECT REPORT 0, 1 and 2 all list LUN 0.
        if (cmd.allocLen < 16) return check(SENSE.invalidFieldInCdb, `REPORT LUNS length ${cmd.allocLen}`);
        if (cmd.select > 2) return check(SENSE.invalidFieldInCdb, `REPORT LUNS select ${cmd.select}`);
        return this.#dataIn(dataIn, reportLuns(), cmd.allocLen);
      case "read":
        return this.#read(cmd.lba, cmd.blocks, dataIn);
      case "write":
        return this.#write(cmd.lba, cmd.blocks, dataOut);
      case "synchronize_cache": {
        const blocks = cmd.blocks === 0 ? Math.max(0, this.blocks - cmd.lba) : cmd.blocks;
        if (!this.#inRange(cmd.lba, blocks))
          return check(SENSE.lbaOutOfRange, `sync past the end at ${cmd.lba}`);
        return this.#io(SENSE.writeError, () => this.disk.flush());
      }
      case "write_same":
        return this.#writeSame(cmd, dataOut);
      case "unmap":
        return this.#unmap(cmd.paramLen, dataOut);
    }
  }

  /** Copies `data` cut to `allocLen` into the data-in buffer (as much as fits). */
  #dataIn(dataIn: Writer, data: Uint8Array, allocLen: number): Outcome {
    dataIn.write(data.subarray(0, Math.min(allocLen, data.length)));
    return GOOD;
  }

  #modeSense(cmd: Extract<ScsiCommand, { op: "mode_sense" }>, dataIn: Writer): Outcome {
    if (cmd.pageControl === 3) return check(SENSE.savingParametersNotSupported, "MODE SENSE of saved values");
    // Subpages: only 00h (and FFh, "all subpages", with page 3Fh).
    if (cmd.subpage !== 0 && !(cmd.page === 0x3f && cmd.subpage === 0xff))
      return check(SENSE.invalidFieldInCdb, `mode subpage 0x${cmd.subpage.toString(16)}`);
    const codes = cmd.page === 0x3f ? MODE_PAGES : [cmd.page];
    const pages: Uint8Array[] = [];
    for (const code of codes) {
      const page = modePage(code, cmd.pageControl);
      if (page === undefined) return check(SENSE.invalidFieldInCdb, `mode page 0x${code.toString(16)}`);
      pages.push(page);
    }
    return this.#dataIn(dataIn, modeSenseData(cmd.ten, cmd.dbd, pages, this), cmd.allocLen);
  }

  /** Range and buffer checks shared by READ and WRITE; undefined when the transfer may go ahead. */
  #transferProblem(lba: number, blocks: number, buffer: number, what: string): Outcome | undefined {
    if (!this.#inRange(lba, blocks))
      return check(SENSE.lbaOutOfRange, `${what} of ${blocks} blocks past the end at LBA ${lba}`);
    if (blocks > this.maxTransferBlocks)
      return check(SENSE.invalidFieldInCdb, `${what} of ${blocks} blocks (limit ${this.maxTransferBlocks})`);
    if (blocks * this.blockSize > buffer)
      return { kind: "overrun", reason: `${what} of ${blocks * this.blockSize} bytes into ${buffer}` };
    return undefined;
  }

  #read(lba: number, blocks: number, dataIn: Writer): Outcome {
    const problem = this.#transferProblem(lba, blocks, dataIn.available, "read");
    if (problem) return problem;
    const slices = dataIn.slices(blocks * this.blockSize);
    return this.#io(SENSE.unrecoveredReadError, () => {
      const at = lba * this.blockSize;
      if (slices.length > 1 && this.disk.readVectored) this.disk.readVectored(slices, at);
      else {
        let off = at;
        for (const s of slices) {
          this.disk.readAt(s, off);
          off += s.length;
        }
      }
    });
  }

  #write(lba: number, blocks: number, dataOut: Reader): Outcome {
    if (this.readOnly) return check(SENSE.writeProtected, "write to a read-only disk");
    const problem = this.#transferProblem(lba, blocks, dataOut.available, "write");
    if (problem) return problem;
    const slices = dataOut.slices(blocks * this.blockSize);
    return this.#io(SENSE.writeError, () => {
      const at = lba * this.blockSize;
      if (slices.length > 1 && this.disk.writeVectored) this.disk.writeVectored(slices, at);
      else {
        let off = at;
        for (const s of slices) {
          this.disk.writeAt(s, off);
          off += s.length;
        }
      }
    });
  }

  #writeSame(cmd: Extract<ScsiCommand, { op: "write_same" }>, dataOut: Reader): Outcome {
    if (this.readOnly) return check(SENSE.writeProtected, "WRITE SAME to a read-only disk");
    if (cmd.blocks === 0) return check(SENSE.invalidFieldInCdb, "WRITE SAME of 0 blocks (WSNZ)");
    if (!this.#inRange(cmd.lba, cmd.blocks))
      return check(SENSE.lbaOutOfRange, `WRITE SAME past the end at LBA ${cmd.lba}`);
    if (cmd.blocks > this.maxWriteSameBlocks)
      return check(
        SENSE.invalidFieldInCdb,
        `WRITE SAME of ${cmd.blocks} blocks (limit ${this.maxWriteSameBlocks})`,
      );
    let block: Uint8Array = new Uint8Array(this.blockSize);
    if (!cmd.noDataOut) {
      if (dataOut.available < this.blockSize)
        return { kind: "overrun", reason: `WRITE SAME with ${dataOut.available} bytes of data` };
      block = dataOut.readExact(this.blockSize, "WRITE SAME block");
    }
    const offset = cmd.lba * this.blockSize;
    const length = cmd.blocks * this.blockSize;
    if (block.every((b) => b === 0))
      return this.#io(SENSE.writeError, () => this.disk.writeZeroes(offset, length, cmd.unmap));
    // A pattern: written through one bounded buffer of whole copies of the block.
    const chunk = new Uint8Array(Math.min(length, WRITE_SAME_CHUNK));
    for (let at = 0; at < chunk.length; at += this.blockSize) chunk.set(block, at);
    return this.#io(SENSE.writeError, () => {
      for (let done = 0; done < length; done += chunk.length)
        this.disk.writeAt(chunk.subarray(0, Math.min(chunk.length, length - done)), offset + done);
    });
  }

  #unmap(paramLen: number, dataOut: Reader): Outcome {
    if (this.readOnly) return check(SENSE.writeProtected, "UNMAP on a read-only disk");
    // SBC-3 5.28: a PARAMETER LIST LENGTH of 0 is no work; 1 to 7 is an error.
    if (paramLen === 0) return GOOD;
    if (paramLen < UNMAP_HEADER_SIZE)
      return check(SENSE.parameterListLengthError, `UNMAP list of ${paramLen} bytes`);
    if (dataOut.available < paramLen)
      return check(SENSE.parameterListLengthError, `UNMAP list of ${paramLen} bytes in ${dataOut.available}`);
    const header = dataOut.readExact(UNMAP_HEADER_SIZE, "UNMAP header");
    const hv = new DataView(header.buffer);
    // The descriptor count comes from the header and the list length alone, before any descriptor is read.
    const descriptorBytes = Math.min(hv.getUint16(2), paramLen - UNMAP_HEADER_SIZE);
    const count = Math.floor(descriptorBytes / UNMAP_DESCRIPTOR_SIZE);
    if (count > MAX_UNMAP_DESCRIPTORS)
      return check(
        SENSE.invalidFieldInParameterList,
        `UNMAP of ${count} descriptors (limit ${MAX_UNMAP_DESCRIPTORS})`,
      );
    const list = new DataView(dataOut.readExact(count * UNMAP_DESCRIPTOR_SIZE, "UNMAP descriptors").buffer);
    const ranges: [number, number][] = [];
    for (let i = 0; i < count; i++) {
      const lba = list.getBigUint64(i * UNMAP_DESCRIPTOR_SIZE);
      const blocks = list.getUint32(i * UNMAP_DESCRIPTOR_SIZE + 8);
      if (lba + BigInt(blocks) > BigInt(this.blocks))
        return check(SENSE.lbaOutOfRange, `UNMAP of ${blocks} blocks past the end at LBA ${lba}`);
      if (blocks > 0) ranges.push([Number(lba), blocks]);
    }
    // UNMAP is advisory: a host file system that cannot punch holes leaves the blocks mapped.
    for (const [lba, blocks] of ranges) {
      try {
        this.disk.discard(lba * this.blockSize, blocks * this.blockSize);
      } catch {
        // Nothing to undo; the blocks keep their data, which SBC-3 allows (LBPRZ is 0).
      }
    }
    return GOOD;
  }

  /** Runs disk I/O; a DiskError becomes CHECK CONDITION with `sense` (MEDIUM ERROR). */
  #io(sense: Sense, run: () => void): Outcome {
    try {
      run();
      return GOOD;
    } catch (e) {
      if (e instanceof FormatChangeRefused) {
        const first = !this.formatChangeLogged;
        this.formatChangeLogged = true;
        return { kind: "check", sense, reason: first ? e.message : "", failed: true };
      }
      return { kind: "check", sense, reason: (e as Error).message, failed: true };
    }
  }
}

/** The CHECK CONDITION answer for a LUN with no logical unit (SPC-4 6.6.2 for INQUIRY, which still answers). */
export function absentUnit(cmd: ScsiCommand, dataIn: Writer): Outcome {
  if (cmd.op === "inquiry" && !cmd.evpd) {
    const data = standardInquiry(false);
    dataIn.write(data.subarray(0, Math.min(cmd.allocLen, data.length)));
    return GOOD;
  }
  if (cmd.op === "report_luns") {
    if (cmd.allocLen < 16) return check(SENSE.invalidFieldInCdb, `REPORT LUNS length ${cmd.allocLen}`);
    const data = reportLuns();
    dataIn.write(data.subarray(0, Math.min(cmd.allocLen, data.length)));
    return GOOD;
  }
  if (cmd.op === "request_sense") {
    const data = fixedSense(SENSE.lunNotSupported);
    dataIn.write(data.subarray(0, Math.min(cmd.allocLen, FIXED_SENSE_SIZE)));
    return GOOD;
  }
  return check(SENSE.lunNotSupported, `${cmd.op} to an unused LUN`);
}
