// 9P2000.L on the wire: message numbers, field layouts and the bounded reader and writer the server decodes and
// encodes with. Sources: Linux include/net/9p/9p.h (enum p9_msg_t, P9_DOTL_*, P9_GETATTR_*, P9_ATTR_*, P9_LOCK_*),
// net/9p/client.c (each message's p9pdu format string) and the 9P2000.L protocol description of diod
// (protocol.md). Every integer is little-endian; a string is len[2] followed by len bytes, without a NUL.

/** size[4] type[1] tag[2]. */
export const HEADER_SIZE = 7;
/** Rread / Rreaddir: the header and count[4] before the data. */
export const RREAD_HEADER = HEADER_SIZE + 4;
/** Twrite: the header, fid[4] offset[8] count[4] before the data. */
export const TWRITE_HEADER = HEADER_SIZE + 16;
/** qid: type[1] version[4] path[8]. */
export const QID_SIZE = 13;

/** enum p9_msg_t (include/net/9p/9p.h); every reply is its request's number + 1. */
export const MSG = {
  TLERROR: 6,
  RLERROR: 7,
  TSTATFS: 8,
  TLOPEN: 12,
  TLCREATE: 14,
  TSYMLINK: 16,
  TMKNOD: 18,
  TRENAME: 20,
  TREADLINK: 22,
  TGETATTR: 24,
  TSETATTR: 26,
  TXATTRWALK: 30,
  TXATTRCREATE: 32,
  TREADDIR: 40,
  TFSYNC: 50,
  TLOCK: 52,
  TGETLOCK: 54,
  TLINK: 70,
  TMKDIR: 72,
  TRENAMEAT: 74,
  TUNLINKAT: 76,
  TVERSION: 100,
  TAUTH: 102,
  TATTACH: 104,
  TFLUSH: 108,
  TWALK: 110,
  TOPEN: 112,
  TCREATE: 114,
  TREAD: 116,
  TWRITE: 118,
  TCLUNK: 120,
  TREMOVE: 122,
  TSTAT: 124,
  TWSTAT: 126,
} as const;

export const NOTAG = 0xffff;
export const NOFID = 0xffff_ffff;
/** P9_MAXWELEM: the most names one Twalk may carry. */
export const MAXWELEM = 16;
/** The protocol this server speaks; Tversion with anything else is answered "unknown". */
export const VERSION_9P2000_L = "9P2000.L";

/** enum p9_qid_t. */
export const QTDIR = 0x80;
export const QTSYMLINK = 0x02;
export const QTFILE = 0x00;

/** P9_GETATTR_BASIC: mode, nlink, uid, gid, rdev, atime, mtime, ctime, ino, size, blocks. */
export const GETATTR_BASIC = 0x7ff;

/** Tsetattr's valid bits (P9_ATTR_*). ATIME/MTIME without their _SET bit mean "now". */
export const ATTR = {
  MODE: 0x1,
  UID: 0x2,
  GID: 0x4,
  SIZE: 0x8,
  ATIME: 0x10,
  MTIME: 0x20,
  CTIME: 0x40,
  ATIME_SET: 0x80,
  MTIME_SET: 0x100,
} as const;

/** P9_DOTL_AT_REMOVEDIR: Tunlinkat's only flag (the host's AT_REMOVEDIR). */
export const DOTL_AT_REMOVEDIR = 0x200;
/** P9_LOCK_SUCCESS (Rlock status) and F_UNLCK as Rgetlock's type (P9_LOCK_TYPE_UNLCK). */
export const LOCK_SUCCESS = 0;
export const LOCK_TYPE_UNLCK = 2;

/** A request shorter than its fields say: answered with EINVAL. */
export class Truncated extends Error {
  override name = "Truncated";
}

/** A reply that does not fit the negotiated msize or the chain's writable bytes. */
export class ReplyTooLong extends Error {
  override name = "ReplyTooLong";
}

/** Reads the fields of one message, each checked against the message's end (Truncated past it). */
export class P9Reader {
  readonly #view: DataView;
  at: number;

  constructor(
    readonly bytes: Uint8Array,
    at = HEADER_SIZE,
  ) {
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.at = at;
  }

  #take(n: number): number {
    const at = this.at;
    if (at + n > this.bytes.length)
      throw new Truncated(`field of ${n} bytes at ${at} past ${this.bytes.length}`);
    this.at = at + n;
    return at;
  }

  u8(): number {
    return this.#view.getUint8(this.#take(1));
  }

  u16(): number {
    return this.#view.getUint16(this.#take(2), true);
  }

  u32(): number {
    return this.#view.getUint32(this.#take(4), true);
  }

  /** A u64 as a number; -1 above 2^53 - 1 (no offset or size the server accepts is). */
  u64(): number {
    const at = this.#take(8);
    const hi = this.#view.getUint32(at + 4, true);
    return hi > 0x1f_ffff ? -1 : hi * 2 ** 32 + this.#view.getUint32(at, true);
  }

  /** A u64 as a bigint (readdir cookies use all 64 bits). */
  u64n(): bigint {
    return this.#view.getBigUint64(this.#take(8), true);
  }

  /** A string's bytes (a view into the message). */
  str(): Uint8Array {
    const n = this.u16();
    const at = this.#take(n);
    return this.bytes.subarray(at, at + n);
  }
}

/** Encodes a reply body into a buffer of at most `limit` bytes (ReplyTooLong past it). */
export class P9Writer {
  readonly buf: Uint8Array;
  readonly #view: DataView;
  length = HEADER_SIZE;
  limit: number;

  constructor(capacity: number) {
    this.buf = new Uint8Array(capacity);
    this.#view = new DataView(this.buf.buffer);
    this.limit = capacity;
  }

  /** Starts a reply that may be `limit` bytes long in all (header included). */
  reset(limit: number): void {
    this.length = HEADER_SIZE;
    this.limit = Math.min(limit, this.buf.length);
  }

  #room(n: number): number {
    const at = this.length;
    if (at + n > this.limit) throw new ReplyTooLong(`reply of ${at + n} bytes over ${this.limit}`);
    this.length = at + n;
    return at;
  }

  u8(v: number): void {
    this.#view.setUint8(this.#room(1), v);
  }

  u16(v: number): void {
    this.#view.setUint16(this.#room(2), v, true);
  }

  u32(v: number): void {
    this.#view.setUint32(this.#room(4), v >>> 0, true);
  }

  u64(v: number | bigint): void {
    this.#view.setBigUint64(this.#room(8), BigInt.asUintN(64, BigInt(v)), true);
  }

  str(s: Uint8Array | string): void {
    const bytes = typeof s === "string" ? new TextEncoder().encode(s) : s;
    if (bytes.length > 0xffff) throw new ReplyTooLong(`string of ${bytes.length} bytes`);
    this.u16(bytes.length);
    this.buf.set(bytes, this.#room(bytes.length));
  }

  qid(q: Qid): void {
    this.u8(q.type);
    this.u32(q.version);
    this.u64(q.path);
  }

  /** Fills in the header: the whole message is `length + extra` bytes (extra: data written straight out). */
  header(type: number, tag: number, extra = 0): Uint8Array {
    this.#view.setUint32(0, this.length + extra, true);
    this.#view.setUint8(4, type);
    this.#view.setUint16(5, tag, true);
    return this.buf.subarray(0, this.length);
  }
}

export interface Qid {
  readonly type: number;
  readonly version: number;
  readonly path: bigint;
}
