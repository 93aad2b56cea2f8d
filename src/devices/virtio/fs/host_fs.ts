// The host side of a shared directory, common to the virtio-fs (FUSE) and virtio-9p servers: the inode table of
// O_PATH descriptors keyed by (st_dev, st_ino), statx into one buffer, and the few helpers that keep the guest
// inside the share: names are single path components (no "/", never "." or ".."), and every open is openat2(2)
// relative to a node's O_PATH descriptor with RESOLVE_BENEATH and no symlink resolution, so neither a name nor a
// symlink (even one swapped in after a lookup) can lead out. A node is reopened for I/O through /proc/self/fd.
import {
  AT_EMPTY_PATH,
  AT_SYMLINK_NOFOLLOW,
  closeFd,
  cstr,
  fchmodat,
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
import { EACCES, EINVAL, ENAMETOOLONG } from "./errnos.ts";
import type { IdMap } from "./id_map.ts";
import { type Inode, InodeTable } from "./inodes.ts";
import { FUSE_ROOT_ID } from "./layout.ts";

/** What the host side needs of a shared directory's options. */
export interface HostFsConfig {
  /** A name that is not found is looked up again ignoring ASCII case. */
  readonly asciiCasefold: boolean;
  readonly uidMap: IdMap;
  readonly gidMap: IdMap;
}

/** The guest ids a request runs as (a FUSE request's header, a 9P fid's attach). */
export interface Caller {
  readonly uid: number;
  readonly gid: number;
}

/** NAME_MAX (include/uapi/linux/limits.h). */
export const NAME_MAX = 255;
const DOT = 0x2e;
const SLASH = 0x2f;

/** Deepest ".." walk insideShare makes. */
export const MAX_DEPTH = 4096;
/**
 * Most ".." components in one path insideShare passes to statx: each statx walks its whole path, so a deep walk
 * opens a descriptor every DOTDOT_HOP levels and goes on from there (linear in the depth, not quadratic).
 */
export const DOTDOT_HOP = 16;
/** dotdots(k) for the shallow k, made once. */
const shallowDotdots: Uint8Array[] = [];

/** "..", "../..", ...: `k` ".." components, NUL-terminated. */
export function dotdots(k: number): Uint8Array {
  const known = shallowDotdots[k];
  if (known) return known;
  const out = new Uint8Array(3 * k);
  for (let i = 0; i < k; i++) out.set(i === k - 1 ? [DOT, DOT, 0] : [DOT, DOT, SLASH], 3 * i);
  if (k <= DOTDOT_HOP) shallowDotdots[k] = out;
  return out;
}

/** (st_dev, st_ino) of the statx in `v`, as the inode table's key. */
function keyOf(v: DataView): string {
  return `${v.getUint32(STATX.devMajor, true)}:${v.getUint32(STATX.devMinor, true)}:${v.getBigUint64(STATX.ino, true)}`;
}

/** Whether the statx in `v` is of the file whose (dev major, dev minor, ino low, ino high) are `id`. */
function sameFile(v: DataView, id: Uint32Array): boolean {
  return (
    v.getUint32(STATX.ino, true) === id[2] &&
    v.getUint32(STATX.ino + 4, true) === id[3] &&
    v.getUint32(STATX.devMinor, true) === id[1] &&
    v.getUint32(STATX.devMajor, true) === id[0]
  );
}

/** Resolution rules of every open the server makes below a node. */
export const RESOLVE_IN_SHARE = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;

/**
 * The NUL-terminated name at `at` of `args`, with its NUL, and where the next field starts; -errno for a name
 * that is not one path component (EACCES for ".", "..", a "/"; EINVAL without a NUL; ENAMETOOLONG).
 */
export function readName(args: Uint8Array, at: number): { name: Uint8Array; end: number } | number {
  const nul = args.indexOf(0, at);
  if (nul < 0) return -EINVAL;
  const e = checkComponent(args.subarray(at, nul));
  return e < 0 ? e : { name: args.subarray(at, nul + 1), end: nul + 1 };
}

/**
 * 0 when `name` (without a NUL) is one path component the server may pass to an *at() call; else -errno: EINVAL
 * for an empty name or one holding a NUL, ENAMETOOLONG past NAME_MAX, EACCES for ".", ".." or a "/".
 */
export function checkComponent(name: Uint8Array): number {
  const n = name.length;
  if (n === 0 || name.includes(0)) return -EINVAL;
  if (n > NAME_MAX) return -ENAMETOOLONG;
  if (name.includes(SLASH)) return -EACCES;
  if ((n === 1 && name[0] === DOT) || (n === 2 && name[0] === DOT && name[1] === DOT)) return -EACCES;
  return 0;
}

/**
 * The shared directory as a server sees it: the root's descriptor and every node the guest holds. The root node
 * is FUSE_ROOT_ID (the 9P server numbers its nodes the same way; only the FUSE protocol shows the numbers).
 */
export class HostFs<C extends HostFsConfig = HostFsConfig> {
  readonly stat = new Uint8Array(STATX_SIZE);
  protected readonly statView = new DataView(this.stat.buffer);
  readonly inodes: InodeTable;
  /** insideShare's statx buffer (apart from `stat`), the root's (dev, ino) and the last ancestor's. */
  readonly #walkStat = new Uint8Array(STATX_SIZE);
  readonly #walkView = new DataView(this.#walkStat.buffer);
  readonly #rootId = new Uint32Array(4);
  readonly #previousId = new Uint32Array(4);

  constructor(
    readonly config: C,
    rootFd: number,
    /** O_PATH descriptor of /proc/self/fd (opened before confinement), to reopen a node's descriptor. */
    readonly procFd: number,
  ) {
    const e = this.statFd(rootFd);
    if (e < 0) throw new Error(`shared directory: statx failed (errno ${-e})`);
    this.inodes = new InodeTable(rootFd, this.statKey(), this.statType());
    const v = this.statView;
    this.#rootId.set([
      v.getUint32(STATX.devMajor, true),
      v.getUint32(STATX.devMinor, true),
      v.getUint32(STATX.ino, true),
      v.getUint32(STATX.ino + 4, true),
    ]);
  }

  statFd(fd: number): number {
    return statx(fd, null, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW, this.stat);
  }

  /** (st_dev, st_ino) of the last stat, as the inode table's key. */
  statKey(): string {
    return keyOf(this.statView);
  }

  statType(): number {
    return this.statView.getUint16(STATX.mode, true) & S_IFMT;
  }

  statMode(): number {
    return this.statView.getUint16(STATX.mode, true);
  }

  statUid(): number {
    return this.statView.getUint32(STATX.uid, true);
  }

  statGid(): number {
    return this.statView.getUint32(STATX.gid, true);
  }

  /**
   * The node `nodeid`, or undefined (the caller answers ENOENT) when it is unknown or a directory that is no
   * longer below the shared directory (see insideShare).
   */
  node(nodeid: number): Inode | undefined {
    const inode = this.inodes.get(nodeid);
    return inode && this.insideShare(inode) ? inode : undefined;
  }

  /**
   * Gives an entry just made below `parent` (not a symlink) exactly the permission bits the guest asked for,
   * setuid, setgid and sticky included: the host applied this process's umask when it made the entry, and the
   * fchownat to the caller cleared setuid and setgid (pjdfstest chmod/12). Through the entry's own O_PATH
   * descriptor, so a name swapped for a symlink meanwhile is not followed.
   */
  setMadeMode(parent: Inode, name: Uint8Array, mode: number): void {
    const fd = this.openPath(parent, name);
    if (fd < 0) return;
    fchmodat(this.procFd, procName(fd), mode & 0o7777);
    closeFd(fd);
  }

  /**
   * The node of an entry just made below `parent` (LOOKUP's work: one more lookup, its stat left in `stat`), given
   * the caller's (mapped) owner and, when `mode` is given (not for a symlink or a link), exactly those permission
   * bits, as ownByCaller and setMadeMode do; but each change is made only when the entry lacks it (a chown, even
   * to the same ids, clears setuid and setgid, so the mode follows every chown). The common case, a caller whose
   * ids the entry already has and a mode the umask left alone, costs no call beyond the lookup.
   */
  madeNode(req: Caller, parent: Inode, name: Uint8Array, mode?: number): Inode | number {
    const inode = this.lookup(parent, name);
    if (typeof inode === "number") return inode;
    const uid = this.config.uidMap.toHost(req.uid);
    const gid = this.config.gidMap.toHost(req.gid);
    let changed = false;
    if (uid >= 0 && gid >= 0 && (this.statUid() !== uid || this.statGid() !== gid)) {
      fchownat(parent.fd, name, uid, gid, AT_SYMLINK_NOFOLLOW);
      changed = true;
    }
    if (mode !== undefined && (changed || (this.statMode() & 0o7777) !== (mode & 0o7777))) {
      // Through the node's own O_PATH descriptor: a name swapped for a symlink meanwhile is not followed.
      fchmodat(this.procFd, procName(inode.fd), mode & 0o7777);
      changed = true;
    }
    if (changed) this.statFd(inode.fd);
    return inode;
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
   * Whether `inode` still lies below the shared directory: its ancestors are statted ("..", "../..", ... from its
   * descriptor, one statx each, at most MAX_DEPTH of them) until the root's (dev, ino) or the top of the file
   * system. A directory a host process renamed out of the share keeps its node (its descriptor follows it), and
   * this is what stops the guest from working in it. Leaves `stat` as it was.
   */
  insideShare(inode: Inode): boolean {
    if (inode.nodeid === FUSE_ROOT_ID) return true;
    if (inode.type !== S_IFDIR) return true; // checked through its parent: non-directories are reached by name
    const seen = this.#walkView;
    const root = this.#rootId;
    const previous = this.#previousId;
    // The ".." paths start from `base`, which is `hop` levels above the node (a path is at most DOTDOT_HOP
    // levels long; deeper walks continue from a descriptor opened that far up).
    let base = inode.fd;
    let hop = 0;
    try {
      for (let depth = 1; depth <= MAX_DEPTH; depth++) {
        if (depth - hop > DOTDOT_HOP) {
          const up = openat2(base, dotdots(DOTDOT_HOP), O_PATH | O_DIRECTORY | O_CLOEXEC, 0, 0);
          if (up < 0) return false;
          if (base !== inode.fd) closeFd(base);
          base = up;
          hop += DOTDOT_HOP;
        }
        if (statx(base, dotdots(depth - hop), AT_SYMLINK_NOFOLLOW, this.#walkStat) < 0) return false;
        if (sameFile(seen, root)) return true;
        // ".." of the top is itself.
        if (depth === 1 ? keyOf(seen) === inode.key : sameFile(seen, previous)) return false;
        previous[0] = seen.getUint32(STATX.devMajor, true);
        previous[1] = seen.getUint32(STATX.devMinor, true);
        previous[2] = seen.getUint32(STATX.ino, true);
        previous[3] = seen.getUint32(STATX.ino + 4, true);
      }
      return false;
    } finally {
      if (base !== inode.fd) closeFd(base);
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
  ownByCaller(req: Caller, parent: Inode, name: Uint8Array): void {
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
