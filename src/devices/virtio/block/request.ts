// Decoding a virtio-blk request (virtio 1.2 section 5.2.6) from a descriptor chain into a typed request, apart
// from executing it. Layout: a 16-byte device-readable header, then data (readable for OUT, writable for IN and
// GET_ID, readable discard/write-zeroes segments), then one device-writable status byte at the very end.
import type { ChainBuffers, DescriptorChain } from "../descriptor_chain.ts";
import { Reader, Writer } from "../descriptor_utils.ts";
import {
  DISCARD_SEGMENT_SIZE,
  MAX_DISCARD_SEGMENTS,
  REQUEST_HEADER_SIZE,
  SECTOR_SIZE,
  VIRTIO_BLK_T_DISCARD,
  VIRTIO_BLK_T_FLUSH,
  VIRTIO_BLK_T_GET_ID,
  VIRTIO_BLK_T_IN,
  VIRTIO_BLK_T_OUT,
  VIRTIO_BLK_T_WRITE_ZEROES,
  VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP,
} from "./constants.ts";

export interface Segment {
  readonly sector: number;
  readonly sectors: number;
  readonly unmap: boolean;
}

export type BlockRequest =
  | { readonly kind: "in"; readonly sector: number; readonly length: number }
  | { readonly kind: "out"; readonly sector: number; readonly length: number }
  | { readonly kind: "flush" }
  | { readonly kind: "get_id" }
  | { readonly kind: "discard"; readonly segments: readonly Segment[] }
  | { readonly kind: "write_zeroes"; readonly segments: readonly Segment[] }
  | { readonly kind: "unsupported"; readonly type: number }
  /** Well-framed (a status byte exists) but malformed: answered with VIRTIO_BLK_S_IOERR. */
  | { readonly kind: "invalid"; readonly reason: string };

export interface DecodedRequest {
  readonly request: BlockRequest;
  /** Device-readable data after the header (OUT data, segments). */
  readonly reader: Reader;
  /** Device-writable data before the status byte (IN data, GET_ID). */
  readonly data: Writer;
  /** The one-byte status. */
  readonly status: Writer;
}

export class RequestFramingError extends Error {
  constructor(reason: string) {
    super(`virtio-blk request has no place for a status: ${reason}`);
    this.name = "RequestFramingError";
  }
}

const MAX_SECTOR = 2 ** 53 / SECTOR_SIZE;

/** Why `bytes` of segment data cannot be a segment list, judged from the length alone; undefined if it can. */
function segmentBytesProblem(bytes: number): string | undefined {
  if (bytes === 0 || bytes % DISCARD_SEGMENT_SIZE !== 0)
    return `segment data of ${bytes} bytes is not a non-empty multiple of ${DISCARD_SEGMENT_SIZE}`;
  if (bytes / DISCARD_SEGMENT_SIZE > MAX_DISCARD_SEGMENTS)
    return `${bytes / DISCARD_SEGMENT_SIZE} segments (limit ${MAX_DISCARD_SEGMENTS})`;
  return undefined;
}

function segments(reader: Reader, unmapAllowed: boolean): Segment[] | string {
  // The count comes from the length before any segment is read: decoding work stays O(MAX_DISCARD_SEGMENTS).
  const problem = segmentBytesProblem(reader.available);
  if (problem !== undefined) return problem;
  const out: Segment[] = [];
  while (reader.available > 0) {
    const sector = reader.readU64("segment sector");
    const sectors = reader.readU32("segment num_sectors");
    const flags = reader.readU32("segment flags");
    // 5.2.6.2: unknown flags, or unmap on a discard, make the device fail the request.
    if (flags & ~VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP || (!unmapAllowed && flags !== 0))
      return `segment flags 0x${flags.toString(16)} are not supported`;
    if (sector > BigInt(MAX_SECTOR)) return `segment sector ${sector} is out of range`;
    out.push({ sector: Number(sector), sectors, unmap: (flags & VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP) !== 0 });
  }
  return out;
}

/** Where decodeTransfer puts a plain read or write (reused from request to request). */
export interface Transfer {
  /** True for VIRTIO_BLK_T_OUT. */
  write: boolean;
  sector: number;
  /** Data bytes: the sum of the data descriptors' lengths. */
  length: number;
  /** Guest address of the status byte. */
  statusAddr: number;
}

/**
 * The fast path for the requests that make up nearly all traffic, IN and OUT in the shape drivers build them:
 * the first buffer is exactly the 16-byte readable header, the last exactly the one writable status byte, and
 * every buffer between is non-empty and goes the transfer's way. Fills `out` and returns true for such a request
 * with a good sector and whole sectors of data; returns false for anything else, which decodeRequest then
 * decodes (and refuses) in full. The chain's buffers were checked against guest RAM when it was read.
 */
export function decodeTransfer(chain: ChainBuffers, out: Transfer): boolean {
  const n = chain.count;
  if (n < 3) return false;
  const len = chain.len;
  const writable = chain.writable;
  if (writable[0] !== 0 || len[0] !== REQUEST_HEADER_SIZE || writable[n - 1] !== 1 || len[n - 1] !== 1)
    return false;
  const mem = chain.mem;
  const headerAddr = chain.addr[0]!;
  const type = mem.readU32(headerAddr);
  if (type !== VIRTIO_BLK_T_IN && type !== VIRTIO_BLK_T_OUT) return false;
  const dataWritable = type === VIRTIO_BLK_T_IN ? 1 : 0;
  const sector = mem.readU64Safe(headerAddr + 8);
  if (sector < 0 || sector > MAX_SECTOR) return false;
  let length = 0;
  for (let i = 1; i < n - 1; i++) {
    const l = len[i]!;
    if (writable[i] !== dataWritable || l === 0) return false;
    length += l;
  }
  if (length % SECTOR_SIZE !== 0) return false;
  out.write = dataWritable === 0;
  out.sector = sector;
  out.length = length;
  out.statusAddr = chain.addr[n - 1]!;
  return true;
}

/**
 * The cheap first look at a chain that is not a fast-path transfer, on the reused buffers and before any object
 * is made per buffer: a DISCARD or WRITE_ZEROES whose segment data is not a valid, bounded segment list (from the
 * readable length alone) is refused here. Returns the guest address of its status byte and the reason, or
 * undefined when the request goes on to decodeRequest.
 */
export function refuseEarly(chain: ChainBuffers): { statusAddr: number; reason: string } | undefined {
  const n = chain.count;
  if (n < 2 || chain.error !== undefined) return undefined;
  if (chain.writable[0] !== 0 || chain.len[0]! < REQUEST_HEADER_SIZE) return undefined;
  if (chain.writable[n - 1] !== 1 || chain.len[n - 1]! < 1) return undefined;
  const type = chain.mem.readU32(chain.addr[0]!);
  if (type !== VIRTIO_BLK_T_DISCARD && type !== VIRTIO_BLK_T_WRITE_ZEROES) return undefined;
  let readable = 0;
  for (let i = 0; i < n && chain.writable[i] === 0; i++) readable += chain.len[i]!;
  const problem = segmentBytesProblem(readable - REQUEST_HEADER_SIZE);
  if (problem === undefined) return undefined;
  return { statusAddr: chain.addr[n - 1]! + chain.len[n - 1]! - 1, reason: problem };
}

/** Decodes `chain`; throws RequestFramingError only when no status byte can be written back. */
export function decodeRequest(chain: DescriptorChain): DecodedRequest {
  const writer = Writer.of(chain);
  if (writer.available < 1) throw new RequestFramingError("no device-writable byte");
  const status = writer.splitAt(writer.available - 1);
  const reader = Reader.of(chain);
  const done = (request: BlockRequest): DecodedRequest => ({ request, reader, data: writer, status });
  if (reader.available < REQUEST_HEADER_SIZE)
    return done({
      kind: "invalid",
      reason: `header is ${reader.available} bytes, expected ${REQUEST_HEADER_SIZE}`,
    });
  const type = reader.readU32("type");
  reader.readU32("reserved");
  const sector = reader.readU64("sector");
  if (sector > BigInt(MAX_SECTOR))
    return done({ kind: "invalid", reason: `sector ${sector} is out of range` });
  const s = Number(sector);

  switch (type) {
    case VIRTIO_BLK_T_IN:
      // 5.2.6.1: "The length of data MUST be a multiple of 512 bytes for VIRTIO_BLK_T_IN and VIRTIO_BLK_T_OUT."
      if (writer.available % SECTOR_SIZE !== 0)
        return done({ kind: "invalid", reason: `read of ${writer.available} bytes is not whole sectors` });
      if (reader.available !== 0)
        return done({ kind: "invalid", reason: "read request carries device-readable data" });
      return done({ kind: "in", sector: s, length: writer.available });
    case VIRTIO_BLK_T_OUT:
      if (reader.available % SECTOR_SIZE !== 0)
        return done({ kind: "invalid", reason: `write of ${reader.available} bytes is not whole sectors` });
      if (writer.available !== 0)
        return done({ kind: "invalid", reason: "write request has device-writable data" });
      return done({ kind: "out", sector: s, length: reader.available });
    case VIRTIO_BLK_T_FLUSH:
      return done({ kind: "flush" });
    case VIRTIO_BLK_T_GET_ID:
      return done({ kind: "get_id" });
    case VIRTIO_BLK_T_DISCARD:
    case VIRTIO_BLK_T_WRITE_ZEROES: {
      const segs = segments(reader, type === VIRTIO_BLK_T_WRITE_ZEROES);
      if (typeof segs === "string") return done({ kind: "invalid", reason: segs });
      return done({ kind: type === VIRTIO_BLK_T_DISCARD ? "discard" : "write_zeroes", segments: segs });
    }
    default:
      return done({ kind: "unsupported", type });
  }
}
