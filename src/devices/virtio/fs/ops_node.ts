// FUSE operations on nodes: INIT, DESTROY, LOOKUP, FORGET, BATCH_FORGET, GETATTR, SETATTR, READLINK, ACCESS,
// STATFS.
import {
  AT_EMPTY_PATH,
  AT_SYMLINK_NOFOLLOW,
  closeFd,
  fchmodat,
  fchownat,
  fstatfs,
  ftruncate,
  O_WRONLY,
  readlinkSelf,
  S_IFDIR,
  S_IFLNK,
  S_IFREG,
  STATFS,
  STATFS_SIZE,
  UTIME_NOW,
  UTIME_OMIT,
  utimensat,
} from "../../../../ffi/fs_calls.ts";
import { type FsContext, type FsRequest, type OpResult, procName, readName, u64 } from "./context.ts";
import { EACCES, EBADF, EINVAL, ENOENT, EPERM } from "./errnos.ts";
import {
  ACCESS_IN,
  BATCH_FORGET_IN,
  FATTR_ATIME,
  FATTR_ATIME_NOW,
  FATTR_FH,
  FATTR_GID,
  FATTR_MODE,
  FATTR_MTIME,
  FATTR_MTIME_NOW,
  FATTR_SIZE,
  FATTR_UID,
  FORGET_IN,
  FORGET_ONE,
  FUSE_ASYNC_READ,
  FUSE_ATOMIC_O_TRUNC,
  FUSE_BIG_WRITES,
  FUSE_CACHE_SYMLINKS,
  FUSE_DO_READDIRPLUS,
  FUSE_KERNEL_MINOR_VERSION,
  FUSE_KERNEL_VERSION,
  FUSE_MAX_PAGES,
  FUSE_PARALLEL_DIROPS,
  FUSE_POSIX_ACL,
  FUSE_READDIRPLUS_AUTO,
  FUSE_WRITEBACK_CACHE,
  INIT_IN,
  INIT_OUT,
  INIT_OUT_SIZE,
  KSTATFS,
  MAX_PAGES,
  MAX_WRITE,
  SETATTR_IN,
  STATFS_OUT_SIZE,
} from "./layout.ts";

/** Oldest protocol minor we serve (7.27: the first with the layouts above; virtiofs itself needs 7.31). */
export const MIN_MINOR = 27;
/** BATCH_FORGET entries one request may carry: as many as fit in the largest request. */
const MAX_BATCH_FORGET = Math.floor(MAX_WRITE / FORGET_ONE.size);

export function init(ctx: FsContext, req: FsRequest): OpResult {
  if (req.args.length < INIT_IN.size) return -EINVAL;
  const v = req.view;
  const major = v.getUint32(INIT_IN.at.major, true);
  const minor = v.getUint32(INIT_IN.at.minor, true);
  const out = new Uint8Array(INIT_OUT_SIZE);
  const o = new DataView(out.buffer);
  o.setUint32(INIT_OUT.at.major, FUSE_KERNEL_VERSION, true);
  o.setUint32(INIT_OUT.at.minor, FUSE_KERNEL_MINOR_VERSION, true);
  // A newer major: answer with ours only, and the kernel asks again (fuse_lowlevel's negotiation).
  if (major > FUSE_KERNEL_VERSION) return out.subarray(0, 8);
  if (major < FUSE_KERNEL_VERSION || minor < MIN_MINOR) return -EPROTO;
  let wanted =
    FUSE_ASYNC_READ |
    FUSE_ATOMIC_O_TRUNC |
    FUSE_BIG_WRITES |
    FUSE_DO_READDIRPLUS |
    FUSE_READDIRPLUS_AUTO |
    FUSE_PARALLEL_DIROPS |
    FUSE_MAX_PAGES |
    FUSE_CACHE_SYMLINKS;
  if (ctx.config.writeback) wanted |= FUSE_WRITEBACK_CACHE;
  if (ctx.config.posixAcl) wanted |= FUSE_POSIX_ACL;
  const flags = v.getUint32(INIT_IN.at.flags, true) & wanted;
  o.setUint32(INIT_OUT.at.max_readahead, v.getUint32(INIT_IN.at.max_readahead, true), true);
  o.setUint32(INIT_OUT.at.flags, flags >>> 0, true);
  o.setUint16(INIT_OUT.at.max_background, 0xffff, true);
  o.setUint16(INIT_OUT.at.congestion_threshold, 0xbfff, true);
  o.setUint32(INIT_OUT.at.max_write, MAX_WRITE, true);
  o.setUint32(INIT_OUT.at.time_gran, 1, true);
  o.setUint16(INIT_OUT.at.max_pages, MAX_PAGES, true);
  ctx.initialized = true;
  ctx.writebackActive = (flags & FUSE_WRITEBACK_CACHE) !== 0;
  return out;
}
const EPROTO = 71;

export function destroy(ctx: FsContext): OpResult {
  ctx.handles.clear();
  ctx.inodes.clear();
  ctx.initialized = false;
  return new Uint8Array(0);
}

export function lookup(ctx: FsContext, req: FsRequest): OpResult {
  const parent = ctx.node(req.nodeid);
  if (!parent) return -ENOENT;
  const n = readName(req.args, 0);
  if (typeof n === "number") return n;
  let found = ctx.lookup(parent, n.name);
  if (found === -ENOENT && ctx.config.asciiCasefold) {
    const other = ctx.casefoldName(parent, n.name);
    if (other) found = ctx.lookup(parent, other);
  }
  if (typeof found === "number") return found;
  return ctx.entryOut(found);
}

/**
 * A FORGET's nlookup: u64() reads a count of 2^53 or more as -1, and such a count drops every lookup (a negative
 * one would add references instead).
 */
function lookupCount(view: DataView, at: number): number {
  const n = u64(view, at);
  return n < 0 ? Infinity : n;
}

export function forget(ctx: FsContext, req: FsRequest): OpResult {
  if (req.args.length >= FORGET_IN.size)
    ctx.inodes.forget(req.nodeid, lookupCount(req.view, FORGET_IN.at.nlookup));
  return null;
}

export function batchForget(ctx: FsContext, req: FsRequest): OpResult {
  if (req.args.length < BATCH_FORGET_IN.size) return null;
  const count = req.view.getUint32(BATCH_FORGET_IN.at.count, true);
  const fit = Math.floor((req.args.length - BATCH_FORGET_IN.size) / FORGET_ONE.size);
  const n = Math.min(count, fit, MAX_BATCH_FORGET);
  for (let i = 0; i < n; i++) {
    const at = BATCH_FORGET_IN.size + i * FORGET_ONE.size;
    const nodeid = u64(req.view, at + FORGET_ONE.at.nodeid);
    if (nodeid >= 0) ctx.inodes.forget(nodeid, lookupCount(req.view, at + FORGET_ONE.at.nlookup));
  }
  return null;
}

export function getattr(ctx: FsContext, req: FsRequest): OpResult {
  const inode = ctx.node(req.nodeid);
  if (!inode) return -ENOENT;
  // The fh GETATTR may name is the same file: the node's descriptor is stat'ed either way.
  const e = ctx.statFd(inode.fd);
  return e < 0 ? e : ctx.attrOut();
}

const times = new BigInt64Array(4);
const EMPTY_NAME = new Uint8Array(1);

export function setattr(ctx: FsContext, req: FsRequest): OpResult {
  const inode = ctx.node(req.nodeid);
  if (!inode) return -ENOENT;
  if (req.args.length < SETATTR_IN.size) return -EINVAL;
  const v = req.view;
  const a = SETATTR_IN.at;
  const valid = v.getUint32(a.valid, true);
  const handle = valid & FATTR_FH ? ctx.handles.get(u64(v, a.fh), inode.nodeid) : undefined;
  if (valid & FATTR_FH && !handle) return -EBADF;
  const proc = procName(inode.fd);
  if (valid & FATTR_MODE) {
    if (inode.type === S_IFLNK) return -EPERM;
    const e = fchmodat(ctx.procFd, proc, v.getUint32(a.mode, true) & 0o7777);
    if (e < 0) return e;
  }
  if (valid & (FATTR_UID | FATTR_GID)) {
    const uid = valid & FATTR_UID ? ctx.config.uidMap.toHost(v.getUint32(a.uid, true)) : 0xffff_ffff;
    const gid = valid & FATTR_GID ? ctx.config.gidMap.toHost(v.getUint32(a.gid, true)) : 0xffff_ffff;
    if (uid < 0 || gid < 0) return -EINVAL;
    const e = fchownat(inode.fd, null, uid, gid, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW);
    if (e < 0) return e;
  }
  if (valid & FATTR_SIZE) {
    const size = u64(v, a.size);
    if (size < 0) return -EINVAL;
    if (inode.type !== S_IFREG) return inode.type === S_IFDIR ? -21 /* EISDIR */ : -EINVAL;
    let e: number;
    if (handle) e = ftruncate(handle.fd, size);
    else {
      const fd = ctx.reopen(inode, O_WRONLY);
      if (fd < 0) return fd;
      e = ftruncate(fd, size);
      closeFd(fd);
    }
    if (e < 0) return e;
  }
  if (valid & (FATTR_ATIME | FATTR_MTIME)) {
    const set = (on: number, now: number, sec: number, nsec: number, i: number) => {
      if (!(valid & on)) {
        times[i] = 0n;
        times[i + 1] = UTIME_OMIT;
      } else if (valid & now) {
        times[i] = 0n;
        times[i + 1] = UTIME_NOW;
      } else {
        times[i] = v.getBigInt64(sec, true);
        times[i + 1] = BigInt(v.getUint32(nsec, true) % 1_000_000_000);
      }
    };
    set(FATTR_ATIME, FATTR_ATIME_NOW, a.atime, a.atimensec, 0);
    set(FATTR_MTIME, FATTR_MTIME_NOW, a.mtime, a.mtimensec, 2);
    // On the node's own descriptor (AT_EMPTY_PATH), so a symlink's times are its own (lutimes).
    const e = utimensat(inode.fd, EMPTY_NAME, times, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW);
    if (e < 0) return e;
  }
  const e = ctx.statFd(inode.fd);
  return e < 0 ? e : ctx.attrOut();
}

/** PATH_MAX (include/uapi/linux/limits.h): the longest symlink target. */
const PATH_MAX = 4096;
const linkBuf = new Uint8Array(PATH_MAX);

export function readlink(ctx: FsContext, req: FsRequest): OpResult {
  const inode = ctx.node(req.nodeid);
  if (!inode) return -ENOENT;
  if (inode.type !== S_IFLNK) return -EINVAL;
  const n = readlinkSelf(inode.fd, linkBuf);
  return n < 0 ? n : linkBuf.slice(0, n);
}

const R_OK = 4;
const W_OK = 2;
const X_OK = 1;

/** ACCESS: the permission bits checked for the caller's (mapped) ids, as the kernel's generic_permission. */
export function access(ctx: FsContext, req: FsRequest): OpResult {
  const inode = ctx.node(req.nodeid);
  if (!inode) return -ENOENT;
  if (req.args.length < ACCESS_IN.size) return -EINVAL;
  const mask = req.view.getUint32(ACCESS_IN.at.mask, true) & (R_OK | W_OK | X_OK);
  const e = ctx.statFd(inode.fd);
  if (e < 0) return e;
  if (mask === 0) return new Uint8Array(0);
  const mode = ctx.statMode();
  const uid = ctx.config.uidMap.toHost(req.uid);
  const gid = ctx.config.gidMap.toHost(req.gid);
  if (uid === 0) {
    // root may do anything but execute a file no one may execute.
    if (mask & X_OK && inode.type !== S_IFDIR && (mode & 0o111) === 0) return -EACCES;
    return new Uint8Array(0);
  }
  const bits = uid === ctx.statUid() ? (mode >> 6) & 7 : gid === ctx.statGid() ? (mode >> 3) & 7 : mode & 7;
  return (bits & mask) === mask ? new Uint8Array(0) : -EACCES;
}

const statfsBuf = new Uint8Array(STATFS_SIZE);

export function statfs(ctx: FsContext, req: FsRequest): OpResult {
  const inode = ctx.node(req.nodeid);
  if (!inode) return -ENOENT;
  const e = fstatfs(inode.fd, statfsBuf);
  if (e < 0) return e;
  const s = new DataView(statfsBuf.buffer);
  const out = new Uint8Array(STATFS_OUT_SIZE);
  const o = new DataView(out.buffer);
  const k = KSTATFS.at;
  o.setBigUint64(k.blocks, s.getBigUint64(STATFS.blocks, true), true);
  o.setBigUint64(k.bfree, s.getBigUint64(STATFS.bfree, true), true);
  o.setBigUint64(k.bavail, s.getBigUint64(STATFS.bavail, true), true);
  o.setBigUint64(k.files, s.getBigUint64(STATFS.files, true), true);
  o.setBigUint64(k.ffree, s.getBigUint64(STATFS.ffree, true), true);
  o.setUint32(k.bsize, Number(s.getBigUint64(STATFS.bsize, true)), true);
  o.setUint32(k.namelen, Number(s.getBigUint64(STATFS.namelen, true)), true);
  o.setUint32(k.frsize, Number(s.getBigUint64(STATFS.frsize, true)), true);
  return out;
}
