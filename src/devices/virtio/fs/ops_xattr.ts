// FUSE extended-attribute operations: SETXATTR, GETXATTR, LISTXATTR, REMOVEXATTR. The f*xattr calls refuse O_PATH
// descriptors, so a regular file or directory node is reopened read-only (through /proc/self/fd, context.ts) for
// the call; the server never changes its working directory (in single process mode that is the VMM's). Other
// node types (symlinks, devices, FIFOs) have no xattrs here: an empty list, ENODATA, EOPNOTSUPP to set.
// With rewrite-security-xattrs the guest's security.* names are stored as user.virtiofs.security.* (a guest cannot set the host's security labels), and listed back under their own names.
import {
  closeFd,
  fgetxattr,
  flistxattr,
  fremovexattr,
  fsetxattr,
  O_NONBLOCK,
  O_RDONLY,
} from "../../../../ffi/fs_calls.ts";
import { type FsContext, type FsRequest, type OpResult, readCString } from "./context.ts";
import { E2BIG, EINVAL, ENODATA, ENOENT, EOPNOTSUPP, ERANGE } from "./errnos.ts";
import { isDirOrFile } from "./ops_file.ts";
import { GETXATTR_IN, GETXATTR_OUT, SETXATTR_IN } from "./layout.ts";

/** XATTR_SIZE_MAX and XATTR_LIST_MAX (include/uapi/linux/limits.h). */
export const XATTR_SIZE_MAX = 65536;
export const XATTR_LIST_MAX = 65536;

const enc = new TextEncoder();
const SECURITY = enc.encode("security.");
const REWRITTEN = enc.encode("user.virtiofs.");

function startsWith(bytes: Uint8Array, prefix: Uint8Array): boolean {
  return bytes.length >= prefix.length && prefix.every((b, i) => bytes[i] === b);
}

/** The host's name for the guest's xattr `name` (NUL-terminated). */
export function hostXattrName(ctx: FsContext, name: Uint8Array): Uint8Array {
  if (!ctx.config.rewriteSecurityXattrs || !startsWith(name, SECURITY)) return name;
  const out = new Uint8Array(REWRITTEN.length + name.length);
  out.set(REWRITTEN);
  out.set(name, REWRITTEN.length);
  return out;
}

/** The guest's view of a host listxattr result (NUL-separated names). */
export function guestXattrList(ctx: FsContext, list: Uint8Array): Uint8Array {
  if (!ctx.config.rewriteSecurityXattrs) return list;
  const parts: Uint8Array[] = [];
  for (let at = 0; at < list.length;) {
    let end = list.indexOf(0, at);
    if (end < 0) end = list.length;
    const name = list.subarray(at, end + 1);
    // The host's own security.* labels are not the guest's; the rewritten ones are shown under their names.
    if (startsWith(name, SECURITY)) {
      // skip
    } else if (startsWith(name, REWRITTEN) && startsWith(name.subarray(REWRITTEN.length), SECURITY))
      parts.push(name.subarray(REWRITTEN.length));
    else parts.push(name);
    at = end + 1;
  }
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** NO_XATTRS: the node is not a file or directory. */
const NO_XATTRS = -1_000_000;

/** Runs `call` on a readable descriptor of node `nodeid`; -errno, or NO_XATTRS for other node types. */
function withFd(ctx: FsContext, nodeid: number, call: (fd: number) => number): number {
  const inode = ctx.node(nodeid);
  if (!inode) return -ENOENT;
  if (!isDirOrFile(inode)) return NO_XATTRS;
  const fd = ctx.reopen(inode, O_RDONLY | O_NONBLOCK);
  if (fd < 0) return fd;
  try {
    return call(fd);
  } finally {
    closeFd(fd);
  }
}

export function setxattr(ctx: FsContext, req: FsRequest): OpResult {
  if (req.args.length < SETXATTR_IN.size) return -EINVAL;
  const size = req.view.getUint32(SETXATTR_IN.at.size, true);
  const flags = req.view.getUint32(SETXATTR_IN.at.flags, true);
  if (size > XATTR_SIZE_MAX) return -E2BIG;
  const name = readCString(req.args, SETXATTR_IN.size);
  if (typeof name === "number") return name;
  if (name.end + size > req.args.length) return -EINVAL;
  const value = req.args.subarray(name.end, name.end + size);
  const e = withFd(ctx, req.nodeid, (fd) => fsetxattr(fd, hostXattrName(ctx, name.value), value, flags));
  if (e === NO_XATTRS) return -EOPNOTSUPP;
  return e < 0 ? e : new Uint8Array(0);
}

function sizedReply(want: number, n: number, data: Uint8Array): OpResult {
  if (want === 0) {
    const out = new Uint8Array(GETXATTR_OUT.size);
    new DataView(out.buffer).setUint32(GETXATTR_OUT.at.size, n, true);
    return out;
  }
  return data.subarray(0, n);
}

export function getxattr(ctx: FsContext, req: FsRequest): OpResult {
  if (req.args.length < GETXATTR_IN.size) return -EINVAL;
  const want = Math.min(req.view.getUint32(GETXATTR_IN.at.size, true), XATTR_SIZE_MAX);
  const name = readCString(req.args, GETXATTR_IN.size);
  if (typeof name === "number") return name;
  const buf = new Uint8Array(want);
  const n = withFd(ctx, req.nodeid, (fd) => fgetxattr(fd, hostXattrName(ctx, name.value), buf));
  if (n === NO_XATTRS) return -ENODATA;
  return n < 0 ? n : sizedReply(want, n, buf);
}

export function listxattr(ctx: FsContext, req: FsRequest): OpResult {
  if (req.args.length < GETXATTR_IN.size) return -EINVAL;
  const want = Math.min(req.view.getUint32(GETXATTR_IN.at.size, true), XATTR_LIST_MAX);
  // The whole list is read (its size first), so that rewritten names are counted as the guest sees them.
  let buf = new Uint8Array(0);
  const n = withFd(ctx, req.nodeid, (fd) => {
    const total = flistxattr(fd, buf);
    if (total <= 0) return total;
    buf = new Uint8Array(Math.min(total, XATTR_LIST_MAX));
    return flistxattr(fd, buf);
  });
  if (n < 0 && n !== NO_XATTRS) return n;
  const list = guestXattrList(ctx, buf.subarray(0, Math.max(n, 0)));
  if (want !== 0 && list.length > want) return -ERANGE;
  return sizedReply(want, list.length, list);
}

export function removexattr(ctx: FsContext, req: FsRequest): OpResult {
  const name = readCString(req.args, 0);
  if (typeof name === "number") return name;
  const e = withFd(ctx, req.nodeid, (fd) => fremovexattr(fd, hostXattrName(ctx, name.value)));
  if (e === NO_XATTRS) return -ENODATA;
  return e < 0 ? e : new Uint8Array(0);
}
