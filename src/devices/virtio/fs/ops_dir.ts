// FUSE operations on directories: OPENDIR, READDIR, READDIRPLUS (RELEASEDIR and FSYNCDIR are RELEASE and FSYNC of
// ops_file.ts: a directory handle is a handle like a file's). A directory handle is a
// host descriptor read with getdents64; a READDIR offset is the d_off cookie of the last entry the guest got,
// which the host takes back with lseek (as virtiofsd and crosvm do).
import { lseek, getdents64, O_DIRECTORY, O_RDONLY, S_IFDIR } from "../../../../ffi/fs_calls.ts";
import { cstr } from "../../../../ffi/fs_calls.ts";
import { direntBuf, dirents, type FsContext, type FsRequest, type OpResult, setU64, u64 } from "./context.ts";
import { EBADF, EINVAL, ENOENT, ENOTDIR } from "./errnos.ts";
import { DIRENT, ENTRY_OUT_SIZE, FOPEN_CACHE_DIR, FOPEN_KEEP_CACHE, OUT_HEADER, READ_IN } from "./layout.ts";

export function opendir(ctx: FsContext, req: FsRequest): OpResult {
  const inode = ctx.node(req.nodeid);
  if (!inode) return -ENOENT;
  if (inode.type !== S_IFDIR) return -ENOTDIR;
  const fd = ctx.reopen(inode, O_RDONLY | O_DIRECTORY);
  if (fd < 0) return fd;
  const out = new Uint8Array(16);
  const v = new DataView(out.buffer);
  setU64(v, 0, ctx.handles.add(fd, inode));
  if (ctx.config.cache === "always") v.setUint32(8, FOPEN_KEEP_CACHE | FOPEN_CACHE_DIR, true);
  return out;
}

const align8 = (n: number) => (n + 7) & ~7;

function readdirAny(ctx: FsContext, req: FsRequest, plus: boolean): OpResult {
  if (req.args.length < READ_IN.size) return -EINVAL;
  const v = req.view;
  const h = ctx.handles.get(u64(v, READ_IN.at.fh), req.nodeid);
  if (!h) return -EBADF;
  // A directory moved out of the share since it was opened is not listed (context.ts insideShare).
  if (!ctx.node(req.nodeid)) return -ENOENT;
  // d_off cookies are 64-bit (ext4's are directory hashes), so the offset stays a bigint.
  const offset = v.getBigInt64(READ_IN.at.offset, true);
  if (offset < 0n) return -EINVAL;
  const room = Math.max(0, req.chain.writableBytes - OUT_HEADER.size);
  const size = Math.min(v.getUint32(READ_IN.at.size, true), room, 1 << 20);
  const pos = lseek(h.fd, offset, 0 /* SEEK_SET */);
  if (pos < 0) return pos;
  const out = new Uint8Array(size);
  const o = new DataView(out.buffer);
  let used = 0;
  for (;;) {
    const n = getdents64(h.fd, direntBuf);
    if (n < 0) return used > 0 ? out.subarray(0, used) : n;
    if (n === 0) break;
    for (const d of dirents(direntBuf, n)) {
      const isDot =
        (d.name.length === 1 && d.name[0] === 0x2e) ||
        (d.name.length === 2 && d.name[0] === 0x2e && d.name[1] === 0x2e);
      const entrySize = (plus ? ENTRY_OUT_SIZE : 0) + align8(DIRENT.size + d.name.length);
      if (used + entrySize > size) {
        // The guest asks again from the last entry it got (lseek back to its cookie then).
        return out.subarray(0, used);
      }
      let at = used;
      if (plus && !isDot) {
        // READDIRPLUS looks every entry up (one reference each, as LOOKUP); a name gone meanwhile is skipped.
        const inode = ctx.lookup(h.inode, cstr(d.name));
        if (typeof inode === "number") continue;
        ctx.entryOut(inode, out, at);
      }
      if (plus) at += ENTRY_OUT_SIZE;
      o.setBigUint64(at + DIRENT.at.ino, d.ino, true);
      o.setBigInt64(at + DIRENT.at.off, d.off, true);
      o.setUint32(at + DIRENT.at.namelen, d.name.length, true);
      o.setUint32(at + DIRENT.at.type, d.type, true);
      out.set(d.name, at + DIRENT.size);
      used += entrySize;
    }
  }
  return out.subarray(0, used);
}

export const readdir = (ctx: FsContext, req: FsRequest) => readdirAny(ctx, req, false);
export const readdirplus = (ctx: FsContext, req: FsRequest) => readdirAny(ctx, req, true);
