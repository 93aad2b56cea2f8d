// virtio-blk (virtio 1.2 section 5.2) over a DiskFile, with crosvm's --block keys: ro (VIRTIO_BLK_F_RO; writes
// fail with VIRTIO_BLK_S_IOERR), sparse (DISCARD offered and WRITE_ZEROES may punch holes; sparse=false
// allocates the whole image at start-up), block-size (VIRTIO_BLK_F_BLK_SIZE), id (GET_ID) and direct (O_DIRECT,
// handled by the disk). Requests are decoded by request.ts and executed here synchronously.
import { IoRing } from "../../../base/io_ring.ts";
import { logger } from "../../../base/log.ts";
import type { DiskFile } from "../../../disk/disk_file.ts";
import { FormatChangeRefused, type IovecDisk, IovecList, isIovecDisk } from "../../../disk/raw.ts";
import { ChainBuffers } from "../descriptor_chain.ts";
import { VIRTIO_ID_BLOCK, featureBit } from "../constants.ts";
import { type ActiveState, BASE_FEATURES, VirtioDeviceBase } from "../device_base.ts";
import { processQueueBuffers } from "../process_queue.ts";
import type { Queue } from "../split_queue.ts";
import {
  BLOCK_CONFIG_SIZE,
  CONFIG_BLK_SIZE,
  CONFIG_CAPACITY,
  CONFIG_DISCARD_SECTOR_ALIGNMENT,
  CONFIG_MAX_DISCARD_SECTORS,
  CONFIG_MAX_DISCARD_SEG,
  CONFIG_MAX_WRITE_ZEROES_SECTORS,
  CONFIG_MAX_WRITE_ZEROES_SEG,
  CONFIG_NUM_QUEUES,
  CONFIG_SEG_MAX,
  CONFIG_WRITE_ZEROES_MAY_UNMAP,
  MAX_DISCARD_SEGMENTS,
  SECTOR_SHIFT,
  SECTOR_SIZE,
  VIRTIO_BLK_F_BLK_SIZE,
  VIRTIO_BLK_F_DISCARD,
  VIRTIO_BLK_F_FLUSH,
  VIRTIO_BLK_F_RO,
  VIRTIO_BLK_F_SEG_MAX,
  VIRTIO_BLK_F_WRITE_ZEROES,
  VIRTIO_BLK_ID_BYTES,
  VIRTIO_BLK_S_IOERR,
  VIRTIO_BLK_S_OK,
  VIRTIO_BLK_S_UNSUPP,
} from "./constants.ts";
import { IN_FLIGHT_REQUESTS, RingTransfers } from "./ring_transfers.ts";
import {
  type BlockRequest,
  type DecodedRequest,
  type Segment,
  type Transfer,
  decodeRequest,
  decodeTransfer,
  refuseEarly,
} from "./request.ts";

export const BLOCK_QUEUE_SIZE = 256;
/** Largest discard / write-zeroes segment, in sectors (one u32 of sectors, as the config field allows). */
export const MAX_DISCARD_SECTORS = 0xffff_ffff;
export { MAX_DISCARD_SEGMENTS };

export interface BlockOptions {
  readonly disk: DiskFile;
  readonly readOnly: boolean;
  readonly sparse: boolean;
  /** Logical block size reported to the guest: a power of two >= 512. */
  readonly blockSize: number;
  /** Serial returned by GET_ID: up to 20 printable ASCII characters. */
  readonly id?: string;
  /**
   * Keep plain reads and writes of a batch in flight together on an io_uring (raw images without O_DIRECT; where
   * the host refuses io_uring, one request at a time as without it). Absent: one at a time.
   */
  readonly inFlight?: boolean;
}

/** Calls `each` with every slice and its disk offset, the slices lying back to back from `offset`. */
function eachSlice(slices: readonly Uint8Array[], offset: number, each: (s: Uint8Array, at: number) => void) {
  for (const s of slices) {
    each(s, offset);
    offset += s.length;
  }
}

export class BlockOptionError extends Error {
  constructor(path: string, message: string) {
    super(`--block ${path}: ${message}`);
    this.name = "BlockOptionError";
  }
}

export class VirtioBlock extends VirtioDeviceBase {
  readonly debugLabel: string;
  readonly deviceType = VIRTIO_ID_BLOCK;
  readonly queueMaxSizes = [BLOCK_QUEUE_SIZE];
  protected readonly log = logger("devices::virtio::block");
  readonly disk: DiskFile;
  readonly readOnly: boolean;
  readonly sparse: boolean;
  readonly blockSize: number;
  readonly id: Uint8Array;
  #capacitySectors: number;
  /** The disk when it can take iovecs straight from guest memory (the fast path), else undefined. */
  readonly #iovecDisk: IovecDisk | undefined;
  readonly #iovecs = new IovecList();
  readonly #transfer: Transfer = { write: false, sector: 0, length: 0, statusAddr: 0 };
  /** Where each chain is read (its memory is set at activation). */
  #buffers: ChainBuffers | undefined;
  /** Requests in flight on an io_uring, when options.inFlight asked for it and the host allows it. */
  readonly #ringTransfers: RingTransfers | undefined;
  readonly #handleChain = (chain: ChainBuffers): number =>
    this.#fastTransfer(chain) ?? this.#refusedEarly(chain) ?? this.handle(decodeRequest(chain.toChain()));
  /** Whether the refusal of a write that would change a probed raw image's format was logged (once, as QEMU). */
  #formatChangeLogged = false;

  constructor(options: BlockOptions) {
    super();
    const { disk, blockSize } = options;
    this.debugLabel = `virtio-blk ${disk.path}`;
    if (!Number.isInteger(blockSize) || blockSize < SECTOR_SIZE || (blockSize & (blockSize - 1)) !== 0)
      throw new BlockOptionError(disk.path, `block-size ${blockSize} is not a power of two >= 512`);
    const id = options.id ?? "";
    if (id.length > VIRTIO_BLK_ID_BYTES || !/^[\x20-\x7e]*$/.test(id))
      throw new BlockOptionError(disk.path, `id "${id}" is not at most 20 printable ASCII characters`);
    this.id = new Uint8Array(VIRTIO_BLK_ID_BYTES);
    this.id.set(new TextEncoder().encode(id));
    this.disk = disk;
    this.readOnly = options.readOnly || disk.readOnly;
    this.sparse = options.sparse;
    // Never below the host device's logical block size: smaller guest I/O would fail there (O_DIRECT) or be
    // read-modify-written by the host.
    this.blockSize = Math.max(blockSize, disk.logicalBlockSize?.() ?? SECTOR_SIZE);
    this.#capacitySectors = Math.floor(disk.virtualSize() / SECTOR_SIZE);
    this.#iovecDisk = isIovecDisk(disk) ? disk : undefined;
    if (options.inFlight) this.#ringTransfers = this.#openRing();
    if (!this.sparse && !this.readOnly) disk.allocateAll();
  }

  /** An io_uring for requests in flight on the image, or undefined where it cannot be (said at debug level). */
  #openRing(): RingTransfers | undefined {
    const disk = this.#iovecDisk;
    if (!disk || !disk.canTransferIovecs(false, 0)) return undefined;
    try {
      const ring = new IoRing(IN_FLIGHT_REQUESTS, [disk.fd]);
      return new RingTransfers(
        ring,
        disk,
        (chain, t, iov) => this.#decodeTransfer(chain, t, iov),
        this.guestLog,
      );
    } catch (e) {
      this.log.debug(`${this.debugLabel}: one request at a time: ${(e as Error).message}`);
      return undefined;
    }
  }

  /** Whether requests are kept in flight together on an io_uring. */
  get ringInFlight(): boolean {
    return this.#ringTransfers !== undefined;
  }

  get capacitySectors(): number {
    return this.#capacitySectors;
  }

  features(): bigint {
    // The same set crosvm's block device builds: FLUSH and WRITE_ZEROES only for a writable disk.
    let f = BASE_FEATURES | featureBit(VIRTIO_BLK_F_SEG_MAX) | featureBit(VIRTIO_BLK_F_BLK_SIZE);
    if (this.readOnly) f |= featureBit(VIRTIO_BLK_F_RO);
    else {
      f |= featureBit(VIRTIO_BLK_F_FLUSH) | featureBit(VIRTIO_BLK_F_WRITE_ZEROES);
      if (this.sparse) f |= featureBit(VIRTIO_BLK_F_DISCARD);
    }
    return f;
  }

  /** struct virtio_blk_config (5.2.4), little-endian. */
  configSpace(): Uint8Array {
    const c = new Uint8Array(BLOCK_CONFIG_SIZE);
    const v = new DataView(c.buffer);
    v.setBigUint64(CONFIG_CAPACITY, BigInt(this.#capacitySectors), true);
    // seg_max: a request's data descriptors, leaving room for header and status (as crosvm and Firecracker do).
    v.setUint32(CONFIG_SEG_MAX, BLOCK_QUEUE_SIZE - 2, true);
    v.setUint32(CONFIG_BLK_SIZE, this.blockSize, true);
    v.setUint16(CONFIG_NUM_QUEUES, this.queueMaxSizes.length, true);
    v.setUint32(CONFIG_MAX_DISCARD_SECTORS, MAX_DISCARD_SECTORS, true);
    v.setUint32(CONFIG_MAX_DISCARD_SEG, MAX_DISCARD_SEGMENTS, true);
    v.setUint32(CONFIG_DISCARD_SECTOR_ALIGNMENT, this.blockSize >> SECTOR_SHIFT, true);
    v.setUint32(CONFIG_MAX_WRITE_ZEROES_SECTORS, MAX_DISCARD_SECTORS, true);
    v.setUint32(CONFIG_MAX_WRITE_ZEROES_SEG, MAX_DISCARD_SEGMENTS, true);
    c[CONFIG_WRITE_ZEROES_MAY_UNMAP] = this.sparse ? 1 : 0;
    return c;
  }

  readConfig(offset: number, data: Uint8Array): void {
    const c = this.configSpace();
    for (let i = 0; i < data.length; i++) data[i] = c[offset + i] ?? 0;
  }

  /**
   * Resizes the disk (the `disk resize` control command): capacity follows and, if the driver is active, it gets
   * a configuration change notification (5.2.4: capacity may change; 4.1.4.3 config_generation). Throws a
   * DiskError for an image that cannot be resized.
   */
  resize(bytes: number): void {
    if (this.readOnly) throw new BlockOptionError(this.disk.path, "a read-only disk cannot be resized");
    this.disk.resize(bytes);
    if (!this.sparse) this.disk.allocateAll();
    this.#capacitySectors = Math.floor(this.disk.virtualSize() / SECTOR_SIZE);
    this.active?.interrupt.signalConfigChanged();
  }

  protected processQueue(_index: number, queue: Queue, active: ActiveState): void {
    let buffers = this.#buffers;
    if (buffers === undefined || buffers.mem !== active.mem) {
      buffers = new ChainBuffers(active.mem);
      this.#buffers = buffers;
    }
    processQueueBuffers(
      queue,
      active.interrupt,
      buffers,
      this.#handleChain,
      this.guestLog,
      this.#ringTransfers,
    );
  }

  /**
   * Decodes a plain read or write into `t` and its data buffers into `iov` (see decodeTransfer); false when the
   * chain is not one, may not go straight between guest buffers and the image (read-only disk, past the end, see
   * canTransferIovecs) or has more separate buffers than one iovec list holds. The general path then handles it.
   */
  #decodeTransfer(chain: ChainBuffers, t: Transfer, iov: IovecList): boolean {
    const disk = this.#iovecDisk;
    if (!disk || !decodeTransfer(chain, t)) return false;
    if ((t.write && this.readOnly) || !this.#inRange(t.sector, t.length)) return false;
    if (!disk.canTransferIovecs(t.write, t.sector * SECTOR_SIZE)) return false;
    iov.clear();
    const host = chain.host;
    const len = chain.len;
    for (let i = 1; i < chain.count - 1; i++) if (!iov.append(host[i]!, len[i]!)) return false;
    return true;
  }

  /**
   * A plain read or write done in one preadv/pwritev straight from the chain's buffers, with no view or object
   * per buffer; returns the used length, or undefined when the request is not one (see decodeTransfer) or did
   * not complete in full (end of file, an error, an O_DIRECT disk): the general path then runs it from the
   * start and reports whatever is wrong. Redoing is safe: a read or write of the same bytes is idempotent.
   */
  #fastTransfer(chain: ChainBuffers): number | undefined {
    const disk = this.#iovecDisk;
    const t = this.#transfer;
    const iov = this.#iovecs;
    if (!disk || !this.#decodeTransfer(chain, t, iov)) return undefined;
    const offset = t.sector * SECTOR_SIZE;
    let done: number;
    try {
      done = t.write ? disk.writeIovecs(iov, offset) : disk.readIovecs(iov, offset);
    } catch {
      return undefined;
    }
    if (done !== t.length) return undefined;
    chain.mem.writeU8(t.statusAddr, VIRTIO_BLK_S_OK);
    return t.write ? 1 : t.length + 1;
  }

  /** IOERR for a request refuseEarly turns away, with no per-buffer work; undefined for any other. */
  #refusedEarly(chain: ChainBuffers): number | undefined {
    const refused = refuseEarly(chain);
    if (refused === undefined) return undefined;
    this.#refuse(refused.reason);
    chain.mem.writeU8(refused.statusAddr, VIRTIO_BLK_S_IOERR);
    return 1;
  }

  /** Executes a decoded request, writes its status byte and returns the bytes written to the guest. */
  handle(decoded: DecodedRequest): number {
    let written = 0;
    let status: number;
    try {
      [status, written] = this.#execute(decoded.request, decoded);
    } catch (e) {
      if (!(e instanceof FormatChangeRefused) || !this.#formatChangeLogged)
        this.guestLog.warn("request failed", `${decoded.request.kind} failed: ${(e as Error).message}`);
      if (e instanceof FormatChangeRefused) this.#formatChangeLogged = true;
      status = VIRTIO_BLK_S_IOERR;
    }
    decoded.status.writeU8(status);
    return written + 1;
  }

  #inRange(sector: number, bytes: number): boolean {
    return sector * SECTOR_SIZE + bytes <= this.#capacitySectors * SECTOR_SIZE;
  }

  #execute(req: BlockRequest, io: DecodedRequest): [number, number] {
    // As crosvm: a read-only disk refuses everything but reads and GET_ID with IOERR.
    if (
      this.readOnly &&
      req.kind !== "in" &&
      req.kind !== "get_id" &&
      req.kind !== "unsupported" &&
      req.kind !== "invalid"
    )
      return this.#refuse(`${req.kind} on a read-only disk`);
    switch (req.kind) {
      case "in": {
        if (!this.#inRange(req.sector, req.length))
          return this.#refuse(`read past the end at sector ${req.sector}`);
        const at = req.sector * SECTOR_SIZE;
        const slices = io.data.slices(req.length);
        if (slices.length > 1 && this.disk.readVectored) this.disk.readVectored(slices, at);
        else eachSlice(slices, at, (s, off) => this.disk.readAt(s, off));
        return [VIRTIO_BLK_S_OK, req.length];
      }
      case "out": {
        if (!this.#inRange(req.sector, req.length))
          return this.#refuse(`write past the end at sector ${req.sector}`);
        const at = req.sector * SECTOR_SIZE;
        const slices = io.reader.slices(req.length);
        if (slices.length > 1 && this.disk.writeVectored) this.disk.writeVectored(slices, at);
        else eachSlice(slices, at, (s, off) => this.disk.writeAt(s, off));
        return [VIRTIO_BLK_S_OK, 0];
      }
      case "flush":
        // 5.2.6.2: data written before a completed FLUSH must be on stable storage.
        this.disk.flush();
        return [VIRTIO_BLK_S_OK, 0];
      case "get_id": {
        const n = io.data.write(this.id);
        return [VIRTIO_BLK_S_OK, n];
      }
      case "discard":
        // Discard is a hint: ignored on a non-sparse disk, and a file system that cannot punch holes is fine.
        if (!this.sparse) return [VIRTIO_BLK_S_OK, 0];
        return this.#segments(req.segments, (off, len) => {
          try {
            this.disk.discard(off, len);
          } catch (e) {
            this.log.debug(`${this.debugLabel}: discard ignored: ${(e as Error).message}`);
          }
        });
      case "write_zeroes":
        return this.#segments(req.segments, (off, len, s) =>
          this.disk.writeZeroes(off, len, s.unmap && this.sparse),
        );
      case "unsupported":
        return [VIRTIO_BLK_S_UNSUPP, 0];
      case "invalid":
        return this.#refuse(req.reason);
    }
  }

  #segments(
    segments: readonly Segment[],
    apply: (offset: number, length: number, s: Segment) => void,
  ): [number, number] {
    for (const s of segments) {
      if (!this.#inRange(s.sector, s.sectors * SECTOR_SIZE))
        return this.#refuse(`segment past the end at sector ${s.sector}`);
    }
    for (const s of segments) apply(s.sector * SECTOR_SIZE, s.sectors * SECTOR_SIZE, s);
    return [VIRTIO_BLK_S_OK, 0];
  }

  #refuse(reason: string): [number, number] {
    this.guestLog.warn("refused request", reason);
    return [VIRTIO_BLK_S_IOERR, 0];
  }
}
