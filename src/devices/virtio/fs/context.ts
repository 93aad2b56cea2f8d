// What every FUSE operation shares: the options of the shared directory, the host side of the share (host_fs.ts:
// the inode table and the helpers that keep the guest inside it), the handle table and the decoded request.
import type { FsChain } from "./chain_io.ts";
import { EINVAL } from "./errnos.ts";
import { HostFs, type HostFsConfig } from "./host_fs.ts";
import type { HandleTable, Inode } from "./inodes.ts";
import {
  ATTR,
  ATTR_OUT_ATTR_OFFSET,
  ATTR_OUT_HEAD,
  ATTR_OUT_SIZE,
  ENTRY_ATTR_OFFSET,
  ENTRY_OUT_HEAD,
  ENTRY_OUT_SIZE,
} from "./layout.ts";
import { STATX } from "../../../../ffi/fs_calls.ts";

export {
  checkComponent,
  direntBuf,
  dirents,
  type HostDirent,
  MAX_DEPTH,
  NAME_MAX,
  procName,
  readName,
  RESOLVE_IN_SHARE,
} from "./host_fs.ts";
export { InodeTable } from "./inodes.ts";

export type CacheMode = "never" | "auto" | "always";

export interface FsConfig extends HostFsConfig {
  readonly cache: CacheMode;
  /** Seconds the guest may cache entries and attributes. */
  readonly timeout: number;
  readonly writeback: boolean;
  readonly posixAcl: boolean;
  /** Store the guest's security.* xattrs as user.virtiofs.security.* on the host. */
  readonly rewriteSecurityXattrs: boolean;
}

/** One decoded request: its header fields and its argument bytes (after fuse_in_header, up to its len). */
export interface FsRequest {
  readonly opcode: number;
  readonly unique: bigint;
  readonly nodeid: number;
  readonly uid: number;
  readonly gid: number;
  readonly args: Uint8Array;
  readonly view: DataView;
  readonly chain: FsChain;
}

/**
 * An operation's answer: a reply body, -errno, a count of body bytes already written after the reply header
 * (READ), or null for no reply at all (FORGET, BATCH_FORGET).
 */
export type OpResult = Uint8Array | number | null;
export type Op = (ctx: FsContext, req: FsRequest) => OpResult;

/** The bytes of a NUL-terminated value at `at` (a symlink target, an xattr name), with its NUL; -EINVAL if none. */
export function readCString(args: Uint8Array, at: number): { value: Uint8Array; end: number } | number {
  const nul = args.indexOf(0, at);
  if (nul < 0) return -EINVAL;
  return { value: args.subarray(at, nul + 1), end: nul + 1 };
}

/** Reads a u64 field as a number; -1 when it is above 2^53 - 1 (no offset or size we accept is). */
export function u64(view: DataView, at: number): number {
  const hi = view.getUint32(at + 4, true);
  return hi > 0x1f_ffff ? -1 : hi * 2 ** 32 + view.getUint32(at, true);
}

export function setU64(view: DataView, at: number, value: number): void {
  view.setUint32(at, value % 2 ** 32, true);
  view.setUint32(at + 4, Math.floor(value / 2 ** 32), true);
}

/** Largest reply body replyBody makes: CREATE's fuse_entry_out and fuse_open_out, with room to spare. */
export const REPLY_SCRATCH_BYTES = 512;

export class FsContext extends HostFs<FsConfig> {
  initialized = false;
  readonly #reply = new Uint8Array(REPLY_SCRATCH_BYTES);
  readonly #replyView = new DataView(this.#reply.buffer);
  /** FUSE_WRITEBACK_CACHE was negotiated: the kernel may read from files the guest opened write-only. */
  writebackActive = false;

  constructor(
    config: FsConfig,
    rootFd: number,
    readonly handles: HandleTable,
    /** O_PATH descriptor of /proc/self/fd (opened before confinement), to reopen a node's descriptor. */
    procFd: number,
  ) {
    super(config, rootFd, procFd);
  }

  get validSeconds(): number {
    return this.config.cache === "never" ? 0 : this.config.timeout;
  }

  /** Encodes the last stat as struct fuse_attr at `at` of `view`, owners mapped to guest ids. */
  encodeAttr(view: DataView, at: number): void {
    const s = this.statView;
    const a = ATTR.at;
    view.setBigUint64(at + a.ino, s.getBigUint64(STATX.ino, true), true);
    view.setBigUint64(at + a.size, s.getBigUint64(STATX.size, true), true);
    view.setBigUint64(at + a.blocks, s.getBigUint64(STATX.blocks, true), true);
    view.setBigInt64(at + a.atime, s.getBigInt64(STATX.atime, true), true);
    view.setBigInt64(at + a.mtime, s.getBigInt64(STATX.mtime, true), true);
    view.setBigInt64(at + a.ctime, s.getBigInt64(STATX.ctime, true), true);
    view.setUint32(at + a.atimensec, s.getUint32(STATX.atime + 8, true), true);
    view.setUint32(at + a.mtimensec, s.getUint32(STATX.mtime + 8, true), true);
    view.setUint32(at + a.ctimensec, s.getUint32(STATX.ctime + 8, true), true);
    view.setUint32(at + a.mode, s.getUint16(STATX.mode, true), true);
    view.setUint32(at + a.nlink, s.getUint32(STATX.nlink, true), true);
    view.setUint32(at + a.uid, this.config.uidMap.toGuest(s.getUint32(STATX.uid, true)), true);
    view.setUint32(at + a.gid, this.config.gidMap.toGuest(s.getUint32(STATX.gid, true)), true);
    // new_encode_dev (include/linux/kdev_t.h), as the kernel's FUSE client decodes rdev.
    const major = s.getUint32(STATX.rdevMajor, true);
    const minor = s.getUint32(STATX.rdevMinor, true);
    view.setUint32(at + a.rdev, ((minor & 0xff) | (major << 8) | ((minor & ~0xff) << 12)) >>> 0, true);
    view.setUint32(at + a.blksize, s.getUint32(STATX.blksize, true), true);
  }

  /**
   * A zeroed reply body of `size` bytes (at most REPLY_SCRATCH_BYTES) in a buffer kept from request to request: the
   * server writes an operation's reply into the chain before it takes the next request, so the bytes are only
   * ever needed until then.
   */
  replyBody(size: number): Uint8Array {
    return this.#reply.fill(0, 0, size).subarray(0, size);
  }

  /** struct fuse_attr_out for the last stat. */
  attrOut(): Uint8Array {
    const out = this.replyBody(ATTR_OUT_SIZE);
    const v = this.#replyView;
    setU64(v, ATTR_OUT_HEAD.at.attr_valid, this.validSeconds);
    this.encodeAttr(v, ATTR_OUT_ATTR_OFFSET);
    return out;
  }

  /** struct fuse_entry_out for `inode` and the last stat, into `out` at `at` (a reply body when absent). */
  entryOut(inode: Inode, out = this.replyBody(ENTRY_OUT_SIZE), at = 0): Uint8Array {
    const v = new DataView(out.buffer, out.byteOffset);
    const e = ENTRY_OUT_HEAD.at;
    setU64(v, at + e.nodeid, inode.nodeid);
    setU64(v, at + e.generation, 0);
    setU64(v, at + e.entry_valid, this.validSeconds);
    setU64(v, at + e.attr_valid, this.validSeconds);
    this.encodeAttr(v, at + ENTRY_ATTR_OFFSET);
    return out;
  }
}
