// FUSE operations on open files: OPEN, CREATE, READ, WRITE, FLUSH, RELEASE, FSYNC, FALLOCATE, LSEEK,
// COPY_FILE_RANGE. READ and WRITE move the data with one preadv/pwritev between the file and the guest's buffers
// (host iovecs over the chain, chain_io.ts); nothing is copied through JavaScript.
import {
  closeFd,
  copyFileRange,
  fallocate as sysFallocate,
  fdatasync,
  fsync as sysFsync,
  lseek as sysLseek,
  O_ACCMODE,
  O_APPEND,
  O_CLOEXEC,
  O_CREAT,
  O_EXCL,
  O_NOFOLLOW,
  O_RDWR,
  O_WRONLY,
  openat2,
  preadv,
  pwritev,
  S_IFDIR,
  S_IFLNK,
  S_IFREG,
  SEEK_DATA,
  SEEK_HOLE,
} from "../../../../ffi/fs_calls.ts";
import { IovecList } from "./chain_io.ts";
import {
  type FsContext,
  type FsRequest,
  type OpResult,
  RESOLVE_IN_SHARE,
  readName,
  setU64,
  u64,
} from "./context.ts";
import { EBADF, EEXIST, EINVAL, EISDIR, ELOOP, ENOENT } from "./errnos.ts";
import type { Inode } from "./inodes.ts";
import {
  COPY_FILE_RANGE_IN,
  CREATE_IN,
  ENTRY_OUT_SIZE,
  FALLOCATE_IN,
  FOPEN_DIRECT_IO,
  FOPEN_KEEP_CACHE,
  FSYNC_IN,
  FUSE_FSYNC_FDATASYNC,
  IN_HEADER,
  LSEEK_IN,
  LSEEK_OUT,
  MAX_WRITE,
  OPEN_IN,
  OPEN_OUT,
  OUT_HEADER,
  READ_IN,
  RELEASE_IN,
  WRITE_IN,
  WRITE_OUT,
} from "./layout.ts";

/**
 * Open flags the guest may pass on: the access mode and flags that only change how the file is used (9P's
 * P9_DOTL_* open flags have the same values, include/net/9p/9p.h).
 */
export const PASSED_FLAGS =
  0o3 |
  0o2000 /* O_APPEND */ |
  0o1000 /* O_TRUNC */ |
  0o4000 /* O_NONBLOCK */ |
  0o10000 /* O_DSYNC */ |
  0o4010000 /* O_SYNC */ |
  0o40000 /* O_DIRECT */ |
  0o1000000 /* O_NOATIME */ |
  0o200 /* O_EXCL */ |
  0o100000; /* O_LARGEFILE */

/** The flags a guest open becomes on the host (writeback caching needs read access and no O_APPEND). */
export function hostOpenFlags(ctx: FsContext, flags: number): number {
  let f = flags & PASSED_FLAGS & ~0o1000000; // O_NOATIME needs file ownership; the guest's kernel keeps atime.
  if (ctx.writebackActive) {
    if ((f & O_ACCMODE) === O_WRONLY) f = (f & ~O_ACCMODE) | O_RDWR;
    f &= ~O_APPEND;
  }
  return f;
}

export function isDirOrFile(inode: Inode): boolean {
  return inode.type === S_IFREG || inode.type === S_IFDIR;
}

/** fuse_open_out for handle `fh`, with the cache mode's flags. */
export function openOut(
  ctx: FsContext,
  fh: number,
  out: Uint8Array = new Uint8Array(OPEN_OUT.size),
  at = 0,
): Uint8Array {
  const v = new DataView(out.buffer, out.byteOffset);
  setU64(v, at + OPEN_OUT.at.fh, fh);
  const flags =
    ctx.config.cache === "never" ? FOPEN_DIRECT_IO : ctx.config.cache === "always" ? FOPEN_KEEP_CACHE : 0;
  v.setUint32(at + OPEN_OUT.at.open_flags, flags, true);
  return out;
}

export function open(ctx: FsContext, req: FsRequest): OpResult {
  const inode = ctx.node(req.nodeid);
  if (!inode) return -ENOENT;
  if (req.args.length < OPEN_IN.size) return -EINVAL;
  if (inode.type === S_IFDIR) return -EISDIR;
  if (inode.type !== S_IFREG) return -EINVAL; // devices, FIFOs and sockets are not opened on the host's side
  const fd = ctx.reopen(inode, hostOpenFlags(ctx, req.view.getUint32(OPEN_IN.at.flags, true)) & ~O_CREAT);
  if (fd < 0) return fd;
  return openOut(ctx, ctx.handles.add(fd, inode), ctx.replyBody(OPEN_OUT.size));
}

export function create(ctx: FsContext, req: FsRequest): OpResult {
  const parent = ctx.node(req.nodeid);
  if (!parent) return -ENOENT;
  if (req.args.length < CREATE_IN.size) return -EINVAL;
  const n = readName(req.args, CREATE_IN.size);
  if (typeof n === "number") return n;
  const flags = hostOpenFlags(ctx, req.view.getUint32(CREATE_IN.at.flags, true));
  const mode = req.view.getUint32(CREATE_IN.at.mode, true) & 0o7777;
  // Always O_EXCL: this call only makes a new file. An existing name is opened as OPEN opens a node (a regular
  // file only): opened here, a FIFO would block the server and a device node would open the host's device.
  const fd = openat2(
    parent.fd,
    n.name,
    flags | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
    mode,
    RESOLVE_IN_SHARE,
  );
  if (fd === -EEXIST && !(flags & O_EXCL)) return openExisting(ctx, parent, n.name, flags);
  if (fd < 0) return fd;
  const inode = ctx.madeNode(req, parent, n.name, mode);
  if (typeof inode === "number") {
    closeFd(fd);
    return inode;
  }
  return createdOut(ctx, inode, ctx.handles.add(fd, inode));
}

/** CREATE's reply: the entry of `inode` (its last stat) and the open handle `fh`. */
function createdOut(ctx: FsContext, inode: Inode, fh: number): Uint8Array {
  const out = ctx.replyBody(ENTRY_OUT_SIZE + OPEN_OUT.size);
  ctx.entryOut(inode, out, 0);
  return openOut(ctx, fh, out, ENTRY_OUT_SIZE);
}

/** 0 for a regular file; else why CREATE does not open the node (open(2) with O_NOFOLLOW's errno, OPEN's EINVAL). */
function notOpenable(inode: Inode): number {
  if (inode.type === S_IFREG) return 0;
  if (inode.type === S_IFDIR) return -EISDIR;
  return inode.type === S_IFLNK ? -ELOOP : -EINVAL;
}

/**
 * CREATE of a name that exists (without O_EXCL): its node looked up and, when it is a regular file, opened with
 * `flags`; owner and mode stay as they are.
 */
function openExisting(ctx: FsContext, parent: Inode, name: Uint8Array, flags: number): OpResult {
  const inode = ctx.lookup(parent, name);
  if (typeof inode === "number") return inode;
  const refused = notOpenable(inode);
  const fd = refused < 0 ? refused : ctx.reopen(inode, flags & ~O_CREAT);
  const e = fd < 0 ? fd : ctx.statFd(inode.fd);
  if (e < 0) {
    if (fd >= 0) closeFd(fd);
    ctx.inodes.forget(inode.nodeid, 1);
    return e;
  }
  return createdOut(ctx, inode, ctx.handles.add(fd, inode));
}

const iov = new IovecList();

export function read(ctx: FsContext, req: FsRequest): OpResult {
  if (req.args.length < READ_IN.size) return -EINVAL;
  const v = req.view;
  const h = ctx.handles.get(u64(v, READ_IN.at.fh), req.nodeid);
  if (!h) return -EBADF;
  const offset = u64(v, READ_IN.at.offset);
  if (offset < 0) return -EINVAL;
  const room = req.chain.writableBytes - OUT_HEADER.size;
  const size = Math.min(v.getUint32(READ_IN.at.size, true), MAX_WRITE, Math.max(room, 0));
  if (size === 0) return 0;
  iov.clear();
  if (!req.chain.writableIov(OUT_HEADER.size, size, iov)) return -EINVAL;
  return preadv(h.fd, iov.words, iov.count, offset);
}

export function write(ctx: FsContext, req: FsRequest): OpResult {
  if (req.args.length < WRITE_IN.size) return -EINVAL;
  const v = req.view;
  const h = ctx.handles.get(u64(v, WRITE_IN.at.fh), req.nodeid);
  if (!h) return -EBADF;
  const offset = u64(v, WRITE_IN.at.offset);
  const size = v.getUint32(WRITE_IN.at.size, true);
  if (offset < 0 || size > MAX_WRITE) return -EINVAL;
  // The data follows the two headers in the readable buffers (it was not copied: see server.ts).
  const dataAt = IN_HEADER.size + WRITE_IN.size;
  if (dataAt + size > req.chain.readableBytes) return -EINVAL;
  let n = 0;
  if (size > 0) {
    iov.clear();
    if (!req.chain.readableIov(dataAt, size, iov)) return -EINVAL;
    n = pwritev(h.fd, iov.words, iov.count, offset);
    if (n < 0) return n;
  }
  const out = ctx.replyBody(WRITE_OUT.size);
  new DataView(out.buffer, out.byteOffset).setUint32(WRITE_OUT.at.size, n, true);
  return out;
}

export function flush(ctx: FsContext, req: FsRequest): OpResult {
  // Nothing is buffered in the server; a FLUSH of a known handle succeeds (close(2) on the host is at RELEASE).
  if (req.args.length < 8) return -EINVAL;
  return ctx.handles.get(u64(req.view, 0), req.nodeid) ? new Uint8Array(0) : -EBADF;
}

export function release(ctx: FsContext, req: FsRequest): OpResult {
  if (req.args.length < RELEASE_IN.size) return -EINVAL;
  return ctx.handles.release(u64(req.view, RELEASE_IN.at.fh), req.nodeid) ? new Uint8Array(0) : -EBADF;
}

export function fsync(ctx: FsContext, req: FsRequest): OpResult {
  if (req.args.length < FSYNC_IN.size) return -EINVAL;
  const h = ctx.handles.get(u64(req.view, FSYNC_IN.at.fh), req.nodeid);
  if (!h) return -EBADF;
  const dataOnly = (req.view.getUint32(FSYNC_IN.at.fsync_flags, true) & FUSE_FSYNC_FDATASYNC) !== 0;
  const e = dataOnly ? fdatasync(h.fd) : sysFsync(h.fd);
  return e < 0 ? e : new Uint8Array(0);
}

export function fallocate(ctx: FsContext, req: FsRequest): OpResult {
  if (req.args.length < FALLOCATE_IN.size) return -EINVAL;
  const v = req.view;
  const h = ctx.handles.get(u64(v, FALLOCATE_IN.at.fh), req.nodeid);
  if (!h) return -EBADF;
  const offset = u64(v, FALLOCATE_IN.at.offset);
  const length = u64(v, FALLOCATE_IN.at.length);
  if (offset < 0 || length < 0) return -EINVAL;
  const e = sysFallocate(h.fd, v.getUint32(FALLOCATE_IN.at.mode, true), offset, length);
  return e < 0 ? e : new Uint8Array(0);
}

export function lseek(ctx: FsContext, req: FsRequest): OpResult {
  if (req.args.length < LSEEK_IN.size) return -EINVAL;
  const v = req.view;
  const h = ctx.handles.get(u64(v, LSEEK_IN.at.fh), req.nodeid);
  if (!h) return -EBADF;
  const whence = v.getUint32(LSEEK_IN.at.whence, true);
  const offset = u64(v, LSEEK_IN.at.offset);
  // The kernel handles SEEK_SET/CUR/END itself; only the data/hole searches reach the server.
  if ((whence !== SEEK_DATA && whence !== SEEK_HOLE) || offset < 0) return -EINVAL;
  const at = sysLseek(h.fd, offset, whence);
  if (at < 0) return at;
  const out = new Uint8Array(LSEEK_OUT.size);
  setU64(new DataView(out.buffer), LSEEK_OUT.at.offset, at);
  return out;
}

export function copyFileRangeOp(ctx: FsContext, req: FsRequest): OpResult {
  if (req.args.length < COPY_FILE_RANGE_IN.size) return -EINVAL;
  const v = req.view;
  const a = COPY_FILE_RANGE_IN.at;
  const src = ctx.handles.get(u64(v, a.fh_in), req.nodeid);
  const dst = ctx.handles.get(u64(v, a.fh_out), u64(v, a.nodeid_out));
  if (!src || !dst) return -EBADF;
  const offIn = u64(v, a.off_in);
  const offOut = u64(v, a.off_out);
  const len = u64(v, a.len);
  if (offIn < 0 || offOut < 0 || len < 0 || v.getBigUint64(a.flags, true) !== 0n) return -EINVAL;
  const n = copyFileRange(src.fd, offIn, dst.fd, offOut, Math.min(len, 2 ** 31));
  if (n < 0) return n;
  const out = new Uint8Array(WRITE_OUT.size);
  new DataView(out.buffer).setUint32(WRITE_OUT.at.size, n, true);
  return out;
}
