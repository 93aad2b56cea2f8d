// The 9P2000.L operations on fids (formats from Linux net/9p/client.c; see protocol.ts). Each is one *at() call
// relative to a node's O_PATH descriptor with a single-component name, or a call on a descriptor the fid opened;
// Tread and Twrite move the data with one preadv/pwritev between the file and the chain's guest buffers.
import {
  AT_EMPTY_PATH,
  AT_REMOVEDIR,
  AT_SYMLINK_FOLLOW,
  AT_SYMLINK_NOFOLLOW,
  closeFd,
  fchmodat,
  fchownat,
  fdatasync,
  fstatfs,
  fsync as sysFsync,
  ftruncate,
  getdents64,
  linkat,
  lseek,
  mkdirat,
  mknodat,
  O_ACCMODE,
  O_CLOEXEC,
  O_CREAT,
  O_DIRECTORY,
  O_NOFOLLOW,
  O_RDONLY,
  O_WRONLY,
  openat2,
  preadv,
  pwritev,
  readlinkSelf,
  renameat2,
  S_IFDIR,
  S_IFLNK,
  S_IFMT,
  S_IFREG,
  STATFS,
  STATFS_SIZE,
  STATX,
  statx,
  symlinkat,
  unlinkat,
  UTIME_NOW,
  UTIME_OMIT,
  utimensat,
} from "../../../../ffi/fs_calls.ts";
import { IovecList } from "../fs/chain_io.ts";
import { EBADF, EBUSY, EINVAL, EISDIR, ENOENT, ENOTDIR, EOPNOTSUPP, EPERM } from "../fs/errnos.ts";
import {
  checkComponent,
  direntBuf,
  dirents,
  type HostFs,
  procName,
  RESOLVE_IN_SHARE,
} from "../fs/host_fs.ts";
import type { Inode } from "../fs/inodes.ts";
import { FUSE_ROOT_ID } from "../fs/layout.ts";
import { PASSED_FLAGS } from "../fs/ops_file.ts";
import type { Fid } from "./fids.ts";
import {
  ATTR,
  DOTL_AT_REMOVEDIR,
  GETATTR_BASIC,
  LOCK_SUCCESS,
  LOCK_TYPE_UNLCK,
  QID_SIZE,
  type Qid,
  QTDIR,
  QTFILE,
  QTSYMLINK,
  RREAD_HEADER,
  TWRITE_HEADER,
} from "./protocol.ts";
import type { P9Request, P9Server } from "./server.ts";

/** PATH_MAX (include/uapi/linux/limits.h): the longest symlink target. */
const PATH_MAX = 4096;
const O_NOATIME = 0o1000000;

/** The qid of the last stat (ctx.stat): its type from the mode, version 0, path the inode number. */
export function qidOfStat(fs: HostFs): Qid {
  const v = new DataView(fs.stat.buffer);
  const type = fs.statType();
  return {
    type: type === S_IFDIR ? QTDIR : type === S_IFLNK ? QTSYMLINK : QTFILE,
    version: 0,
    path: v.getBigUint64(STATX.ino, true),
  };
}

/** A string field as the name of one new entry, NUL-terminated; -errno when it is not one path component. */
function entryName(bytes: Uint8Array): Uint8Array | number {
  const e = checkComponent(bytes);
  if (e < 0) return e;
  const out = new Uint8Array(bytes.length + 1);
  out.set(bytes);
  return out;
}

/** The fid's node, which must be a directory (Tlcreate, Tmkdir, ... name their parent by a fid). */
function dirFid(s: P9Server, fid: number): Fid | number {
  const f = s.fid(fid);
  if (!f) return -EBADF;
  return f.inode.type === S_IFDIR ? f : -ENOTDIR;
}

/** Stats `name` below `dir` (not following a symlink) into fs.stat and writes its qid. */
function qidOfName(req: P9Request, dir: Inode, name: Uint8Array): number {
  const e = statx(dir.fd, name, AT_SYMLINK_NOFOLLOW, req.s.fs.stat);
  if (e < 0) return e;
  req.w.qid(qidOfStat(req.s.fs));
  return 0;
}

/** Gives a new entry the fid's (mapped) owner and the given group; a host that refuses it leaves the server's. */
function own(s: P9Server, f: Fid, dir: Inode, name: Uint8Array, gid: number): void {
  const uid = s.fs.config.uidMap.toHost(f.uid);
  const hostGid = s.fs.config.gidMap.toHost(gid);
  if (uid < 0 || hostGid < 0) return;
  fchownat(dir.fd, name, uid, hostGid, AT_SYMLINK_NOFOLLOW);
}

/** Open flags of Tlopen/Tlcreate (P9_DOTL_*, the host's values) the server passes on. */
function openFlags(flags: number): number {
  return flags & PASSED_FLAGS & ~O_NOATIME;
}

/** Tlopen fid[4] flags[4] -> Rlopen qid iounit[4]. Regular files and directories are opened on the host. */
export function lopen({ s, r, w }: P9Request): number {
  const f = s.fid(r.u32());
  const flags = r.u32();
  if (!f) return -EBADF;
  if (f.fd >= 0) return -EBADF;
  const type = f.inode.type;
  let fd: number;
  if (type === S_IFDIR) {
    if ((flags & O_ACCMODE) !== O_RDONLY) return -EISDIR;
    fd = s.fs.reopen(f.inode, O_RDONLY | O_DIRECTORY);
  } else if (type === S_IFREG) {
    if ((flags & O_ACCMODE) === O_ACCMODE) return -EINVAL;
    fd = s.fs.reopen(f.inode, openFlags(flags) & ~O_CREAT);
  } else return -EINVAL; // devices, FIFOs and sockets are the guest's own; symlinks are not opened
  if (fd < 0) return fd;
  const e = s.fs.statFd(fd);
  if (e < 0) {
    closeFd(fd);
    return e;
  }
  f.fd = fd;
  f.openFlags = flags;
  w.qid(qidOfStat(s.fs));
  w.u32(0); // iounit 0: the client uses msize
  return 0;
}

/**
 * Tlcreate fid[4] name[s] flags[4] mode[4] gid[4] -> Rlcreate qid iounit[4]: creates and opens `name` in the
 * fid's directory; the fid then stands for the new, opened file.
 */
export function lcreate(req: P9Request): number {
  const { s, r, w } = req;
  const f = dirFid(s, r.u32());
  const name = entryName(r.str());
  const flags = r.u32();
  const mode = r.u32() & 0o7777;
  const gid = r.u32();
  if (typeof f === "number") return f;
  if (typeof name === "number") return name;
  if (f.fd >= 0) return -EBADF;
  const dir = f.inode;
  const fd = openat2(
    dir.fd,
    name,
    openFlags(flags) | O_CREAT | O_NOFOLLOW | O_CLOEXEC,
    mode,
    RESOLVE_IN_SHARE,
  );
  if (fd < 0) return fd;
  own(s, f, dir, name, gid);
  s.fs.setMadeMode(dir, name, mode);
  const inode = s.fs.lookup(dir, name);
  if (typeof inode === "number") {
    closeFd(fd);
    return inode;
  }
  // The fid's reference on the directory becomes its parent reference.
  if (f.parent) s.fs.inodes.forget(f.parent.nodeid, 1);
  f.parent = dir;
  f.name = name;
  f.inode = inode;
  f.fd = fd;
  f.openFlags = flags;
  w.qid(qidOfStat(s.fs));
  w.u32(0);
  return 0;
}

const iov = new IovecList();

/** Tread fid[4] offset[8] count[4] -> Rread count[4] data[count], the data read into the chain's buffers. */
export function read({ s, r, w, chain }: P9Request): number {
  const f = s.fids.get(r.u32());
  const offset = r.u64();
  const count = r.u32();
  if (!f || f.fd < 0) return -EBADF;
  if (f.inode.type === S_IFDIR) return -EISDIR;
  if (offset < 0) return -EINVAL;
  const n = Math.min(count, s.msize - RREAD_HEADER, chain.writableBytes - RREAD_HEADER);
  let got = 0;
  if (n > 0) {
    iov.clear();
    if (!chain.writableIov(RREAD_HEADER, n, iov)) return -EINVAL;
    got = preadv(f.fd, iov.words, iov.count, offset);
    if (got < 0) return got;
  }
  w.u32(got);
  return got;
}

/** Twrite fid[4] offset[8] count[4] data[count] -> Rwrite count[4], the data written from the chain's buffers. */
export function write({ s, r, w, chain }: P9Request): number {
  const f = s.fids.get(r.u32());
  const offset = r.u64();
  const count = r.u32();
  if (!f || f.fd < 0) return -EBADF;
  if (offset < 0 || count > s.msize - TWRITE_HEADER) return -EINVAL;
  // The message's size field covers the data; it was checked against the chain's readable bytes.
  const size = new DataView(r.bytes.buffer, r.bytes.byteOffset).getUint32(0, true);
  if (TWRITE_HEADER + count > size) return -EINVAL;
  let n = 0;
  if (count > 0) {
    iov.clear();
    if (!chain.readableIov(TWRITE_HEADER, count, iov)) return -EINVAL;
    n = pwritev(f.fd, iov.words, iov.count, offset);
    if (n < 0) return n;
    if (n > 0) dropPrivilegeBits(s, f);
  }
  w.u32(n);
  return 0;
}

// include/uapi/linux/stat.h
const S_ISUID = 0o4000;
const S_ISGID = 0o2000;
const S_IXGRP = 0o0010;

/**
 * After a write by a user other than root, the file loses setuid, and setgid when it is group-executable, as
 * Linux's file_remove_privs does for a writer without CAP_FSETID: the server writes with its own privileges, so the
 * host kernel keeps them (pjdfstest chmod/12).
 */
function dropPrivilegeBits(s: P9Server, f: Fid): void {
  if (f.uid === 0 || s.fs.statFd(f.inode.fd) < 0) return;
  const mode = new DataView(s.fs.stat.buffer).getUint16(STATX.mode, true);
  const drop = (mode & S_ISUID) | ((mode & S_ISGID) !== 0 && (mode & S_IXGRP) !== 0 ? S_ISGID : 0);
  if (drop !== 0) fchmodat(s.fs.procFd, procName(f.inode.fd), mode & 0o7777 & ~drop);
}

/** Tfsync fid[4] datasync[4] -> Rfsync. */
export function fsync({ s, r }: P9Request): number {
  const f = s.fids.get(r.u32());
  const datasync = r.u32();
  if (!f || f.fd < 0) return -EBADF;
  const e = datasync ? fdatasync(f.fd) : sysFsync(f.fd);
  return e < 0 ? e : 0;
}

/**
 * Tgetattr fid[4] request_mask[8] -> Rgetattr valid[8] qid mode[4] uid[4] gid[4] nlink[8] rdev[8] size[8]
 * blksize[8] blocks[8] atime_sec[8] atime_nsec[8] mtime_sec[8] mtime_nsec[8] ctime_sec[8] ctime_nsec[8]
 * btime_sec[8] btime_nsec[8] gen[8] data_version[8]. The basic fields are always answered.
 */
export function getattr({ s, r, w }: P9Request): number {
  const f = s.fid(r.u32());
  r.u64(); // request_mask: the basic set costs one statx either way
  if (!f) return -EBADF;
  const e = s.fs.statFd(f.inode.fd);
  if (e < 0) return e;
  const st = new DataView(s.fs.stat.buffer);
  const cfg = s.fs.config;
  w.u64(GETATTR_BASIC);
  w.qid(qidOfStat(s.fs));
  w.u32(st.getUint16(STATX.mode, true));
  w.u32(cfg.uidMap.toGuest(st.getUint32(STATX.uid, true)));
  w.u32(cfg.gidMap.toGuest(st.getUint32(STATX.gid, true)));
  w.u64(st.getUint32(STATX.nlink, true));
  // new_encode_dev (include/linux/kdev_t.h): v9fs decodes st_rdev with new_decode_dev.
  const major = st.getUint32(STATX.rdevMajor, true);
  const minor = st.getUint32(STATX.rdevMinor, true);
  w.u64(((minor & 0xff) | (major << 8) | ((minor & ~0xff) << 12)) >>> 0);
  w.u64(st.getBigUint64(STATX.size, true));
  w.u64(st.getUint32(STATX.blksize, true));
  w.u64(st.getBigUint64(STATX.blocks, true));
  for (const t of [STATX.atime, STATX.mtime, STATX.ctime]) {
    w.u64(st.getBigInt64(t, true));
    w.u64(st.getUint32(t + 8, true));
  }
  for (let i = 0; i < 4; i++) w.u64(0); // btime, gen, data_version: not asked for by P9_GETATTR_BASIC
  return 0;
}

const times = new BigInt64Array(4);
const EMPTY_NAME = new Uint8Array(1);

/**
 * Tsetattr fid[4] valid[4] mode[4] uid[4] gid[4] size[8] atime_sec[8] atime_nsec[8] mtime_sec[8] mtime_nsec[8]
 * -> Rsetattr.
 */
export function setattr({ s, r }: P9Request): number {
  const f = s.fid(r.u32());
  const valid = r.u32();
  const mode = r.u32();
  const uid = r.u32();
  const gid = r.u32();
  const size = r.u64();
  const atime = [r.u64n(), r.u64n()] as const;
  const mtime = [r.u64n(), r.u64n()] as const;
  if (!f) return -EBADF;
  const inode = f.inode;
  const cfg = s.fs.config;
  if (valid & ATTR.MODE) {
    if (inode.type === S_IFLNK) return -EPERM;
    const e = fchmodat(s.fs.procFd, procName(inode.fd), mode & 0o7777);
    if (e < 0) return e;
  }
  if (valid & (ATTR.UID | ATTR.GID)) {
    const u = valid & ATTR.UID ? cfg.uidMap.toHost(uid) : 0xffff_ffff;
    const g = valid & ATTR.GID ? cfg.gidMap.toHost(gid) : 0xffff_ffff;
    if (u < 0 || g < 0) return -EINVAL;
    const e = fchownat(inode.fd, null, u, g, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW);
    if (e < 0) return e;
  }
  if (valid & ATTR.SIZE) {
    if (size < 0) return -EINVAL;
    if (inode.type !== S_IFREG) return inode.type === S_IFDIR ? -EISDIR : -EINVAL;
    const writable = f.fd >= 0 && (f.openFlags & O_ACCMODE) !== O_RDONLY;
    const fd = writable ? f.fd : s.fs.reopen(inode, O_WRONLY);
    if (fd < 0) return fd;
    const e = ftruncate(fd, size);
    if (fd !== f.fd) closeFd(fd);
    if (e < 0) return e;
  }
  if (valid & (ATTR.ATIME | ATTR.MTIME)) {
    const set = (on: number, given: number, t: readonly [bigint, bigint], i: number) => {
      times[i] = valid & on && valid & given ? BigInt.asIntN(64, t[0]) : 0n;
      times[i + 1] = !(valid & on) ? UTIME_OMIT : valid & given ? t[1] % 1_000_000_000n : UTIME_NOW;
    };
    set(ATTR.ATIME, ATTR.ATIME_SET, atime, 0);
    set(ATTR.MTIME, ATTR.MTIME_SET, mtime, 2);
    // On the node's own descriptor (AT_EMPTY_PATH), so a symlink's times are its own.
    const e = utimensat(inode.fd, EMPTY_NAME, times, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW);
    if (e < 0) return e;
  }
  return 0;
}

/**
 * Treaddir fid[4] offset[8] count[4] -> Rreaddir count[4] data[count], each entry qid offset[8] type[1] name[s].
 * The offset is the host's d_off cookie of the last entry the guest got, taken back with lseek.
 */
export function readdir({ s, r, w, chain }: P9Request): number {
  const f = s.fid(r.u32());
  const offset = r.u64n();
  const count = r.u32();
  if (!f || f.fd < 0) return -EBADF;
  if (f.inode.type !== S_IFDIR) return -ENOTDIR;
  if (offset > 0x7fff_ffff_ffff_ffffn) return -EINVAL;
  const room = Math.min(count, s.msize - RREAD_HEADER, chain.writableBytes - RREAD_HEADER);
  if (room <= 0) return -EINVAL;
  const pos = lseek(f.fd, offset, 0 /* SEEK_SET */);
  if (pos < 0) return pos;
  const out = new Uint8Array(room);
  const o = new DataView(out.buffer);
  // ".." of the shared directory is shown as the directory itself (its host parent is not the guest's business).
  let rootIno = -1n;
  if (f.inode.nodeid === FUSE_ROOT_ID) {
    const e = s.fs.statFd(f.inode.fd);
    if (e < 0) return e;
    rootIno = new DataView(s.fs.stat.buffer).getBigUint64(STATX.ino, true);
  }
  let used = 0;
  fill: for (;;) {
    const n = getdents64(f.fd, direntBuf);
    if (n < 0) {
      if (used === 0) return n;
      break;
    }
    if (n === 0) break;
    for (const d of dirents(direntBuf, n)) {
      const size = QID_SIZE + 8 + 1 + 2 + d.name.length;
      if (used + size > room) break fill; // the guest asks again from the last cookie it got
      const type = d.type === 4 ? QTDIR : d.type === 10 ? QTSYMLINK : QTFILE; // DT_DIR, DT_LNK
      o.setUint8(used, type);
      o.setUint32(used + 1, 0, true);
      const isDotDot = d.name.length === 2 && d.name[0] === 0x2e && d.name[1] === 0x2e;
      o.setBigUint64(used + 5, isDotDot && rootIno >= 0n ? rootIno : d.ino, true);
      o.setBigInt64(used + QID_SIZE, d.off, true);
      o.setUint8(used + QID_SIZE + 8, d.type);
      o.setUint16(used + QID_SIZE + 9, d.name.length, true);
      out.set(d.name, used + QID_SIZE + 11);
      used += size;
    }
  }
  if (used > 0 && !chain.writeOut(out.subarray(0, used), RREAD_HEADER)) return -EINVAL;
  w.u32(used);
  return used;
}

const statfsBuf = new Uint8Array(STATFS_SIZE);

/**
 * Tstatfs fid[4] -> Rstatfs type[4] bsize[4] blocks[8] bfree[8] bavail[8] files[8] ffree[8] fsid[8] namelen[4].
 */
export function statfs({ s, r, w }: P9Request): number {
  const f = s.fid(r.u32());
  if (!f) return -EBADF;
  const e = fstatfs(f.inode.fd, statfsBuf);
  if (e < 0) return e;
  const v = new DataView(statfsBuf.buffer);
  w.u32(Number(v.getBigUint64(STATFS.type, true) & 0xffff_ffffn));
  w.u32(Number(v.getBigUint64(STATFS.bsize, true)));
  for (const at of [STATFS.blocks, STATFS.bfree, STATFS.bavail, STATFS.files, STATFS.ffree, STATFS.fsid])
    w.u64(v.getBigUint64(at, true));
  w.u32(Number(v.getBigUint64(STATFS.namelen, true)));
  return 0;
}

const linkBuf = new Uint8Array(PATH_MAX);

/** Treadlink fid[4] -> Rreadlink target[s]. */
export function readlink({ s, r, w }: P9Request): number {
  const f = s.fid(r.u32());
  if (!f) return -EBADF;
  if (f.inode.type !== S_IFLNK) return -EINVAL;
  const n = readlinkSelf(f.inode.fd, linkBuf);
  if (n < 0) return n;
  w.str(linkBuf.subarray(0, n));
  return 0;
}

/** Tmkdir dfid[4] name[s] mode[4] gid[4] -> Rmkdir qid. */
export function mkdir(req: P9Request): number {
  const { s, r } = req;
  const f = dirFid(s, r.u32());
  const name = entryName(r.str());
  const mode = r.u32() & 0o7777;
  const gid = r.u32();
  if (typeof f === "number") return f;
  if (typeof name === "number") return name;
  const e = mkdirat(f.inode.fd, name, mode);
  if (e < 0) return e;
  own(s, f, f.inode, name, gid);
  s.fs.setMadeMode(f.inode, name, mode);
  return qidOfName(req, f.inode, name);
}

/** Tsymlink fid[4] name[s] symtgt[s] gid[4] -> Rsymlink qid. The target is text, never resolved by the server. */
export function symlink(req: P9Request): number {
  const { s, r } = req;
  const f = dirFid(s, r.u32());
  const name = entryName(r.str());
  const target = r.str();
  const gid = r.u32();
  if (typeof f === "number") return f;
  if (typeof name === "number") return name;
  if (target.length === 0 || target.length >= PATH_MAX || target.includes(0)) return -EINVAL;
  const t = new Uint8Array(target.length + 1);
  t.set(target);
  const e = symlinkat(t, f.inode.fd, name);
  if (e < 0) return e;
  own(s, f, f.inode, name, gid);
  return qidOfName(req, f.inode, name);
}

/** Tmknod dfid[4] name[s] mode[4] major[4] minor[4] gid[4] -> Rmknod qid. */
export function mknod(req: P9Request): number {
  const { s, r } = req;
  const f = dirFid(s, r.u32());
  const name = entryName(r.str());
  const mode = r.u32();
  const major = r.u32();
  const minor = r.u32();
  const gid = r.u32();
  if (typeof f === "number") return f;
  if (typeof name === "number") return name;
  // makedev(3) as a number below 2^53 (major and minor come from the guest's 12- and 20-bit fields).
  const dev = (major & 0xfff) * 2 ** 8 + (minor & 0xff) + ((minor >>> 8) & 0xfff) * 2 ** 20;
  const e = mknodat(f.inode.fd, name, mode & (S_IFMT | 0o7777), dev);
  if (e < 0) return e;
  own(s, f, f.inode, name, gid);
  s.fs.setMadeMode(f.inode, name, mode);
  return qidOfName(req, f.inode, name);
}

/** Tlink dfid[4] fid[4] name[s] -> Rlink: a new name in dfid for the file of fid. */
export function link({ s, r }: P9Request): number {
  const d = dirFid(s, r.u32());
  const f = s.fid(r.u32());
  const name = entryName(r.str());
  if (typeof d === "number") return d;
  if (!f) return -EBADF;
  if (typeof name === "number") return name;
  if (f.inode.type === S_IFDIR) return -EPERM;
  // Through the node's /proc/self/fd entry (AT_SYMLINK_FOLLOW follows that magic link to the inode itself).
  const e = linkat(s.fs.procFd, procName(f.inode.fd), d.inode.fd, name, AT_SYMLINK_FOLLOW);
  return e < 0 ? e : 0;
}

/** Trenameat olddirfid[4] oldname[s] newdirfid[4] newname[s] -> Rrenameat. */
export function renameat({ s, r }: P9Request): number {
  const from = dirFid(s, r.u32());
  const oldName = entryName(r.str());
  const to = dirFid(s, r.u32());
  const newName = entryName(r.str());
  if (typeof from === "number") return from;
  if (typeof to === "number") return to;
  if (typeof oldName === "number") return oldName;
  if (typeof newName === "number") return newName;
  const e = renameat2(from.inode.fd, oldName, to.inode.fd, newName, 0);
  return e < 0 ? e : 0;
}

/** Whether `name` in `dir` is still the file `inode` (a rename or unlink since the walk makes it not). */
function stillNamed(fs: HostFs, dir: Inode, name: Uint8Array, inode: Inode): boolean {
  if (statx(dir.fd, name, AT_SYMLINK_NOFOLLOW, fs.stat) < 0) return false;
  return fs.statKey() === inode.key;
}

/** Trename fid[4] dfid[4] name[s] -> Rrename: moves the name the fid was walked to into dfid as `name`. */
export function rename({ s, r }: P9Request): number {
  const f = s.fid(r.u32());
  const d = dirFid(s, r.u32());
  const name = entryName(r.str());
  if (!f) return -EBADF;
  if (typeof d === "number") return d;
  if (typeof name === "number") return name;
  if (!f.parent || !f.name || !stillNamed(s.fs, f.parent, f.name, f.inode)) return -ENOENT;
  const e = renameat2(f.parent.fd, f.name, d.inode.fd, name, 0);
  if (e < 0) return e;
  s.fs.inodes.forget(f.parent.nodeid, 1);
  f.parent = s.fs.inodes.hold(d.inode);
  f.name = name;
  return 0;
}

/** Tunlinkat dirfd[4] name[s] flags[4] -> Runlinkat. */
export function unlinkAt({ s, r }: P9Request): number {
  const d = dirFid(s, r.u32());
  const name = entryName(r.str());
  const flags = r.u32();
  if (typeof d === "number") return d;
  if (typeof name === "number") return name;
  if (flags & ~DOTL_AT_REMOVEDIR) return -EINVAL;
  const e = unlinkat(d.inode.fd, name, flags & DOTL_AT_REMOVEDIR ? AT_REMOVEDIR : 0);
  return e < 0 ? e : 0;
}

/** Tremove's work: unlinks the name the fid was walked to, if it still names the fid's file. */
export function removeByName(s: P9Server, f: Fid): number {
  if (!f.parent || !f.name) return f.inode.nodeid === FUSE_ROOT_ID ? -EBUSY : -EOPNOTSUPP;
  if (!stillNamed(s.fs, f.parent, f.name, f.inode)) return -ENOENT;
  const e = unlinkat(f.parent.fd, f.name, f.inode.type === S_IFDIR ? AT_REMOVEDIR : 0);
  return e < 0 ? e : 0;
}

/**
 * Tlock fid[4] type[1] flags[4] start[8] length[8] proc_id[4] client_id[s] -> Rlock status[1]. Locks are the
 * guest's own: the server grants every request and takes no host lock (as crosvm's p9 server).
 */
export function lock({ s, r, w }: P9Request): number {
  const f = s.fids.get(r.u32());
  r.u8();
  r.u32();
  r.u64();
  r.u64();
  r.u32();
  r.str();
  if (!f) return -EBADF;
  w.u8(LOCK_SUCCESS);
  return 0;
}

/**
 * Tgetlock fid[4] type[1] start[8] length[8] proc_id[4] client_id[s] -> Rgetlock type[1] start[8] length[8]
 * proc_id[4] client_id[s]: no host lock is ever in the way (F_UNLCK).
 */
export function getlock({ s, r, w }: P9Request): number {
  const f = s.fids.get(r.u32());
  r.u8();
  const start = r.u64n();
  const length = r.u64n();
  const procId = r.u32();
  const clientId = r.str();
  if (!f) return -EBADF;
  w.u8(LOCK_TYPE_UNLCK);
  w.u64(start);
  w.u64(length);
  w.u32(procId);
  w.str(clientId);
  return 0;
}
