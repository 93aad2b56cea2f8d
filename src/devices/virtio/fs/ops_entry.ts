// FUSE operations that make or remove names: SYMLINK, MKNOD, MKDIR, LINK, UNLINK, RMDIR, RENAME, RENAME2. Each is
// one *at() call relative to the parent node's descriptor with a single-component name (context.ts readName).
import {
  AT_REMOVEDIR,
  AT_SYMLINK_FOLLOW,
  linkat,
  mkdirat,
  mknodat,
  RENAME_EXCHANGE,
  RENAME_NOREPLACE,
  renameat2,
  symlinkat,
  unlinkat,
} from "../../../../ffi/fs_calls.ts";
import {
  type FsContext,
  type FsRequest,
  type OpResult,
  procName,
  readCString,
  readName,
  u64,
} from "./context.ts";
import { EINVAL, ENOENT } from "./errnos.ts";
import type { Inode } from "./inodes.ts";
import { LINK_IN, MKDIR_IN, MKNOD_IN, RENAME2_IN, RENAME_IN } from "./layout.ts";

/**
 * The entry of a name just made below `parent`: owned by the caller, with the asked `mode` when it is not a
 * symlink or a link, looked up (one reference), encoded.
 */
function made(ctx: FsContext, req: FsRequest, parent: Inode, name: Uint8Array, mode?: number): OpResult {
  const inode = ctx.madeNode(req, parent, name, mode);
  return typeof inode === "number" ? inode : ctx.entryOut(inode);
}

export function symlink(ctx: FsContext, req: FsRequest): OpResult {
  const parent = ctx.node(req.nodeid);
  if (!parent) return -ENOENT;
  const n = readName(req.args, 0);
  if (typeof n === "number") return n;
  const target = readCString(req.args, n.end);
  if (typeof target === "number") return target;
  // The target is stored as text; it is never resolved by the server (every open is RESOLVE_NO_SYMLINKS).
  const e = symlinkat(target.value, parent.fd, n.name);
  return e < 0 ? e : made(ctx, req, parent, n.name);
}

export function mknod(ctx: FsContext, req: FsRequest): OpResult {
  const parent = ctx.node(req.nodeid);
  if (!parent) return -ENOENT;
  if (req.args.length < MKNOD_IN.size) return -EINVAL;
  const n = readName(req.args, MKNOD_IN.size);
  if (typeof n === "number") return n;
  const mode = req.view.getUint32(MKNOD_IN.at.mode, true);
  const rdev = req.view.getUint32(MKNOD_IN.at.rdev, true);
  // new_decode_dev (include/linux/kdev_t.h) to the host's dev_t: makedev(major, minor).
  const major = (rdev & 0xfff00) >> 8;
  const minor = (rdev & 0xff) | ((rdev >> 12) & 0xfff00);
  const dev = major * 2 ** 8 + (minor & 0xff) + (minor >> 8) * 2 ** 20;
  const e = mknodat(parent.fd, n.name, mode, dev);
  return e < 0 ? e : made(ctx, req, parent, n.name, mode);
}

export function mkdir(ctx: FsContext, req: FsRequest): OpResult {
  const parent = ctx.node(req.nodeid);
  if (!parent) return -ENOENT;
  if (req.args.length < MKDIR_IN.size) return -EINVAL;
  const n = readName(req.args, MKDIR_IN.size);
  if (typeof n === "number") return n;
  const mode = req.view.getUint32(MKDIR_IN.at.mode, true) & 0o7777;
  const e = mkdirat(parent.fd, n.name, mode);
  return e < 0 ? e : made(ctx, req, parent, n.name, mode);
}

export function link(ctx: FsContext, req: FsRequest): OpResult {
  const parent = ctx.node(req.nodeid);
  if (!parent || req.args.length < LINK_IN.size) return parent ? -EINVAL : -ENOENT;
  const old = ctx.node(u64(req.view, LINK_IN.at.oldnodeid));
  if (!old) return -ENOENT;
  const n = readName(req.args, LINK_IN.size);
  if (typeof n === "number") return n;
  // Through the node's /proc/self/fd entry (AT_SYMLINK_FOLLOW follows that magic link to the inode itself):
  // linkat with AT_EMPTY_PATH would need CAP_DAC_READ_SEARCH.
  const e = linkat(ctx.procFd, procName(old.fd), parent.fd, n.name, AT_SYMLINK_FOLLOW);
  if (e < 0) return e;
  const inode = ctx.lookup(parent, n.name);
  return typeof inode === "number" ? inode : ctx.entryOut(inode);
}

function remove(ctx: FsContext, req: FsRequest, flags: number): OpResult {
  const parent = ctx.node(req.nodeid);
  if (!parent) return -ENOENT;
  const n = readName(req.args, 0);
  if (typeof n === "number") return n;
  const e = unlinkat(parent.fd, n.name, flags);
  return e < 0 ? e : new Uint8Array(0);
}

export const unlink = (ctx: FsContext, req: FsRequest) => remove(ctx, req, 0);
export const rmdir = (ctx: FsContext, req: FsRequest) => remove(ctx, req, AT_REMOVEDIR);

function renameWith(ctx: FsContext, req: FsRequest, head: number, newdirId: number, flags: number): OpResult {
  if (flags & ~(RENAME_NOREPLACE | RENAME_EXCHANGE)) return -EINVAL;
  const olddir = ctx.node(req.nodeid);
  const newdir = ctx.node(newdirId);
  if (!olddir || !newdir) return -ENOENT;
  const from = readName(req.args, head);
  if (typeof from === "number") return from;
  const to = readName(req.args, from.end);
  if (typeof to === "number") return to;
  const e = renameat2(olddir.fd, from.name, newdir.fd, to.name, flags);
  return e < 0 ? e : new Uint8Array(0);
}

export function rename(ctx: FsContext, req: FsRequest): OpResult {
  if (req.args.length < RENAME_IN.size) return -EINVAL;
  return renameWith(ctx, req, RENAME_IN.size, u64(req.view, RENAME_IN.at.newdir), 0);
}

export function rename2(ctx: FsContext, req: FsRequest): OpResult {
  if (req.args.length < RENAME2_IN.size) return -EINVAL;
  const flags = req.view.getUint32(RENAME2_IN.at.flags, true);
  return renameWith(ctx, req, RENAME2_IN.size, u64(req.view, RENAME2_IN.at.newdir), flags);
}
