// What every FUSE operation shares: the options of the shared directory, the inode and handle tables, the decoded
// request, and the few helpers that keep the guest inside the share: names are single path components (no "/",
// never "." or ".."), and every open is openat2(2) relative to a node's O_PATH descriptor with RESOLVE_BENEATH and
// no symlink resolution, so neither a name nor a symlink (even one swapped in after LOOKUP) can lead out.
import {
  AT_EMPTY_PATH,
  AT_SYMLINK_NOFOLLOW,
  closeFd,
  cstr,
  fchownat,
  getdents64,
  O_DIRECTORY,
  O_RDONLY,
  O_CLOEXEC,
  O_NOFOLLOW,
  O_PATH,
  openat2,
  RESOLVE_BENEATH,
  RESOLVE_NO_MAGICLINKS,
  RESOLVE_NO_SYMLINKS,
  S_IFDIR,
  S_IFMT,
  STATX,
  STATX_SIZE,
  statx,
} from "../../../../ffi/fs_calls.ts";
import type { FsChain } from "./chain_io.ts";
import { EACCES, EINVAL, ENAMETOOLONG } from "./errnos.ts";
import type { IdMap } from "./id_map.ts";
import { type HandleTable, type Inode, InodeTable } from "./inodes.ts";
import {
  ATTR,
  ATTR_OUT_ATTR_OFFSET,
  ATTR_OUT_HEAD,
  ATTR_OUT_SIZE,
  ENTRY_ATTR_OFFSET,
  ENTRY_OUT_HEAD,
  ENTRY_OUT_SIZE,
  FUSE_ROOT_ID,
} from "./layout.ts";

export type CacheMode = "never" | "auto" | "always";

export interface FsConfig {
  readonly cache: CacheMode;
  /** Seconds the guest may cache entries and attributes. */
  readonly timeout: number;
  readonly writeback: boolean;
  readonly posixAcl: boolean;
  /** Store the guest's security.* xattrs as user.virtiofs.security.* on the host. */
  readonly rewriteSecurityXattrs: boolean;
  /** A name that is not found is looked up again ignoring ASCII case. */
  readonly asciiCasefold: boolean;
  readonly uidMap: IdMap;
  readonly gidMap: IdMap;
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

/** NAME_MAX (include/uapi/linux/limits.h). */
export const NAME_MAX = 255;
const DOT = 0x2e;
const SLASH = 0x2f;

/** Deepest ".." walk insideShare makes. */
export const MAX_DEPTH = 4096;
const DOTDOT = new Uint8Array([DOT, DOT, 0]);

/** Resolution rules of every open the server makes below a node. */
export const RESOLVE_IN_SHARE = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;

/**
 * The NUL-terminated name at `at` of `args`, with its NUL, and where the next field starts; -errno for a name
 * that is not one path component (EACCES for ".", "..", a "/"; EINVAL without a NUL; ENAMETOOLONG).
 */
export function readName(args: Uint8Array, at: number): { name: Uint8Array; end: number } | number {
  const nul = args.indexOf(0, at);
  if (nul < 0) return -EINVAL;
  const name = args.subarray(at, nul + 1);
  const n = name.length - 1;
  if (n === 0) return -EINVAL;
  if (n > NAME_MAX) return -ENAMETOOLONG;
  if (name.subarray(0, n).includes(SLASH)) return -EACCES;
  if ((n === 1 && name[0] === DOT) || (n === 2 && name[0] === DOT && name[1] === DOT)) return -EACCES;
  return { name, end: nul + 1 };
}

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

export class FsContext {
  readonly stat = new Uint8Array(STATX_SIZE);
  readonly #statView = new DataView(this.stat.buffer);
  initialized = false;
  /** FUSE_WRITEBACK_CACHE was negotiated: the kernel may read from files the guest opened write-only. */
  writebackActive = false;
  readonly inodes: InodeTable;

  constructor(
    readonly config: FsConfig,
    rootFd: number,
    readonly handles: HandleTable,
    /** O_PATH descriptor of /proc/self/fd (opened before confinement), to reopen a node's descriptor. */
    readonly procFd: number,
  ) {
    const e = this.statFd(rootFd);
    if (e < 0) throw new Error(`shared directory: statx failed (errno ${-e})`);
    this.inodes = new InodeTable(rootFd, this.statKey(), this.statType());
  }

  /** statx of `fd` itself (AT_EMPTY_PATH) into `stat`; 0 or -errno. */
  statFd(fd: number): number {
    return statx(fd, null, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW, this.stat);
  }

  /** (st_dev, st_ino) of the last stat, as the inode table's key. */
  statKey(): string {
    const v = this.#statView;
    return `${v.getUint32(STATX.devMajor, true)}:${v.getUint32(STATX.devMinor, true)}:${v.getBigUint64(STATX.ino, true)}`;
  }

  statType(): number {
    return this.#statView.getUint16(STATX.mode, true) & S_IFMT;
  }

  statMode(): number {
    return this.#statView.getUint16(STATX.mode, true);
  }

  statUid(): number {
    return this.#statView.getUint32(STATX.uid, true);
  }

  statGid(): number {
    return this.#statView.getUint32(STATX.gid, true);
  }

  /**
   * The node `nodeid`, or undefined (the caller answers ENOENT) when it is unknown or a directory that is no
   * longer below the shared directory (see insideShare).
   */
  node(nodeid: number): Inode | undefined {
    const inode = this.inodes.get(nodeid);
    return inode && this.insideShare(inode) ? inode : undefined;
  }

  get validSeconds(): number {
    return this.config.cache === "never" ? 0 : this.config.timeout;
  }

  /** Encodes the last stat as struct fuse_attr at `at` of `view`, owners mapped to guest ids. */
  encodeAttr(view: DataView, at: number): void {
    const s = this.#statView;
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

  /** struct fuse_attr_out for the last stat. */
  attrOut(): Uint8Array {
    const out = new Uint8Array(ATTR_OUT_SIZE);
    const v = new DataView(out.buffer);
    setU64(v, ATTR_OUT_HEAD.at.attr_valid, this.validSeconds);
    this.encodeAttr(v, ATTR_OUT_ATTR_OFFSET);
    return out;
  }

  /** struct fuse_entry_out for `inode` and the last stat, into `out` at `at` (a fresh buffer when absent). */
  entryOut(inode: Inode, out = new Uint8Array(ENTRY_OUT_SIZE), at = 0): Uint8Array {
    const v = new DataView(out.buffer, out.byteOffset);
    const e = ENTRY_OUT_HEAD.at;
    setU64(v, at + e.nodeid, inode.nodeid);
    setU64(v, at + e.generation, 0);
    setU64(v, at + e.entry_valid, this.validSeconds);
    setU64(v, at + e.attr_valid, this.validSeconds);
    this.encodeAttr(v, at + ENTRY_ATTR_OFFSET);
    return out;
  }

  /** Opens `name` below `parent` as an O_PATH descriptor of the name itself (a symlink is not followed). */
  openPath(parent: Inode, name: Uint8Array): number {
    return openat2(parent.fd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC, 0, RESOLVE_IN_SHARE);
  }

  /**
   * LOOKUP's work: the node for `name` below `parent`, with one more lookup, its stat left in `stat`; -errno when
   * it cannot be opened.
   */
  lookup(parent: Inode, name: Uint8Array): Inode | number {
    const fd = this.openPath(parent, name);
    if (fd < 0) return fd;
    const e = this.statFd(fd);
    if (e < 0) {
      this.closeQuietly(fd);
      return e;
    }
    return this.inodes.add(this.statKey(), fd, this.statType());
  }

  /**
   * Whether `inode` still lies below the shared directory: its ".." chain is walked (at most MAX_DEPTH steps)
   * until the root's (dev, ino) or the top of the file system. A directory a host process renamed out of the
   * share keeps its node (its descriptor follows it), and this is what stops the guest from working in it.
   */
  insideShare(inode: Inode): boolean {
    if (inode.nodeid === FUSE_ROOT_ID) return true;
    const rootKey = this.inodes.get(FUSE_ROOT_ID)!.key;
    if (inode.type !== S_IFDIR) return true; // checked through its parent: non-directories are reached by name
    let fd = openat2(inode.fd, DOTDOT, O_PATH | O_DIRECTORY | O_CLOEXEC, 0, 0);
    let previous = inode.key;
    try {
      for (let depth = 0; depth < MAX_DEPTH && fd >= 0; depth++) {
        if (this.statFd(fd) < 0) return false;
        const key = this.statKey();
        if (key === rootKey) return true;
        if (key === previous) return false; // ".." of the top is itself
        previous = key;
        const up = openat2(fd, DOTDOT, O_PATH | O_DIRECTORY | O_CLOEXEC, 0, 0);
        closeFd(fd);
        fd = up;
      }
      return false;
    } finally {
      if (fd >= 0) closeFd(fd);
    }
  }

  /** Opens node `inode` again with real access `flags` (through its /proc/self/fd entry). */
  reopen(inode: Inode, flags: number): number {
    return openat2(this.procFd, procName(inode.fd), (flags | O_CLOEXEC) & ~O_NOFOLLOW, 0, 0);
  }

  /** ascii_casefold: the entry of `parent` equal to `name` ignoring ASCII case, NUL-terminated, if any. */
  casefoldName(parent: Inode, name: Uint8Array): Uint8Array | undefined {
    const fd = this.reopen(parent, O_RDONLY | O_DIRECTORY);
    if (fd < 0) return undefined;
    const want = asciiLower(name.subarray(0, name.length - 1));
    try {
      for (;;) {
        const n = getdents64(fd, direntBuf);
        if (n <= 0) return undefined;
        for (const entry of dirents(direntBuf, n)) {
          const cand = entry.name;
          if (cand.length === want.length && asciiLower(cand).every((b, i) => b === want[i]))
            return cstr(cand);
        }
      }
    } finally {
      closeFd(fd);
    }
  }

  closeQuietly(fd: number): void {
    closeFd(fd);
  }

  /** Gives a created file the caller's (mapped) owner; a host that refuses it leaves the server's. */
  ownByCaller(req: FsRequest, parent: Inode, name: Uint8Array): void {
    const uid = this.config.uidMap.toHost(req.uid);
    const gid = this.config.gidMap.toHost(req.gid);
    if (uid < 0 || gid < 0) return;
    fchownat(parent.fd, name, uid, gid, AT_SYMLINK_NOFOLLOW);
  }
}

function asciiLower(bytes: Uint8Array): Uint8Array {
  return bytes.map((b) => (b >= 0x41 && b <= 0x5a ? b + 0x20 : b));
}

/** Buffer for one getdents64(2) call. */
export const direntBuf = new Uint8Array(32 * 1024);

export interface HostDirent {
  readonly ino: bigint;
  /** d_off: the position after this entry (a cookie for lseek). */
  readonly off: bigint;
  readonly type: number;
  readonly name: Uint8Array;
}

/** The entries of `n` bytes of getdents64 output (struct linux_dirent64: u64 ino, s64 off, u16 reclen, u8 type, name). */
export function* dirents(buf: Uint8Array, n: number): Generator<HostDirent> {
  const v = new DataView(buf.buffer, buf.byteOffset);
  for (let at = 0; at + 19 < n;) {
    const reclen = v.getUint16(at + 16, true);
    if (reclen < 20) return;
    const nameStart = at + 19;
    const nul = buf.indexOf(0, nameStart);
    const end = nul < 0 || nul > at + reclen ? at + reclen : nul;
    yield {
      ino: v.getBigUint64(at, true),
      off: v.getBigInt64(at + 8, true),
      type: buf[at + 18]!,
      name: buf.subarray(nameStart, end),
    };
    at += reclen;
  }
}

/** The name of descriptor `fd` in /proc/self/fd, NUL-terminated. */
export function procName(fd: number): Uint8Array {
  const s = String(fd);
  const out = new Uint8Array(s.length + 1);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

export { InodeTable };
