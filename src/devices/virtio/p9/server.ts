// The 9P2000.L server: one message per descriptor chain (the T-message in the device-readable buffers, the
// R-message written into the device-writable ones, as Linux's 9pnet_virtio lays them out). It checks the size
// field against the chain and the negotiated msize, copies the message (for Twrite only its fixed fields: the
// data is written to the file from guest memory), decodes every field with bounds checks (protocol.ts) and
// answers a guest mistake with Rlerror and an errno, never with an exception. The session state is the
// negotiated msize and the fid table; nodes and descriptors come from the host side shared with virtio-fs
// (fs/host_fs.ts): walks go one component at a time relative to a node's O_PATH descriptor, and ".." stops at
// the shared directory's root.
import { closeFd, O_CLOEXEC, O_DIRECTORY, O_PATH, openat2, S_IFDIR } from "../../../../ffi/fs_calls.ts";
import type { ChainBuffers } from "../descriptor_chain.ts";
import { FsChain } from "../fs/chain_io.ts";
import {
  EBADF,
  EEXIST,
  EINVAL,
  EIO,
  EMSGSIZE,
  ENFILE,
  ENOENT,
  ENOTDIR,
  EOPNOTSUPP,
  EPROTO,
} from "../fs/errnos.ts";
import { checkComponent, type HostFs } from "../fs/host_fs.ts";
import type { Inode } from "../fs/inodes.ts";
import { FUSE_ROOT_ID } from "../fs/layout.ts";
import { type Fid, FidTable } from "./fids.ts";
import * as ops from "./ops.ts";
import {
  HEADER_SIZE,
  MAXWELEM,
  MSG,
  NOFID,
  P9Reader,
  P9Writer,
  ReplyTooLong,
  TWRITE_HEADER,
  Truncated,
  VERSION_9P2000_L,
} from "./protocol.ts";

/** Largest msize the server agrees to (Linux's virtio transport stops near 500 KiB anyway). */
export const MAX_MSIZE = 1 << 20;
/** Smallest msize it agrees to: room for a name of NAME_MAX and a walk of MAXWELEM qids. */
export const MIN_MSIZE = 4096;

export interface ServerLog {
  warn(reason: string, message: string): void;
}

/** What an operation works with: the session, the decoded message and the reply being encoded. */
export interface P9Request {
  readonly s: P9Server;
  readonly r: P9Reader;
  readonly w: P9Writer;
  readonly chain: FsChain;
}

/**
 * An operation's answer: -errno (Rlerror), or the count of reply bytes it wrote straight into the chain after
 * the writer's body (Rread's and Rreaddir's data; 0 for every other reply).
 */
export type P9Op = (req: P9Request) => number;

export class P9Server {
  /** The negotiated msize; 0 before Tversion. */
  msize = 0;
  readonly fids: FidTable;
  readonly #chain = new FsChain();
  readonly #w = new P9Writer(MAX_MSIZE);

  constructor(
    readonly fs: HostFs,
    readonly log: ServerLog,
    maxFids?: number,
  ) {
    this.fids = new FidTable(fs.inodes, maxFids);
  }

  /** The guest's kernel forgets its session on reset: so does the server. */
  reset(): void {
    this.fids.clear();
    this.msize = 0;
  }

  /** Serves the message in `chain`; returns the bytes written into its writable buffers. */
  handle(chain: ChainBuffers): number {
    const c = this.#chain;
    c.reset(chain);
    if (c.readableBytes < HEADER_SIZE) {
      this.log.warn("short request", `request of ${c.readableBytes} bytes has no 9P header`);
      return 0;
    }
    const head = new DataView(c.readIn(HEADER_SIZE).buffer);
    const size = head.getUint32(0, true);
    const type = head.getUint8(4);
    const tag = head.getUint16(5, true);
    const limit = this.msize || MAX_MSIZE;
    const w = this.#w;
    w.reset(Math.min(limit, c.writableBytes));
    if (size < HEADER_SIZE || size > c.readableBytes) return this.#error(tag, EINVAL);
    if (size > limit) return this.#error(tag, EMSGSIZE);
    // Twrite: only its fixed fields are copied; the data goes from guest memory to the file.
    const msg = c.readIn(type === MSG.TWRITE ? Math.min(size, TWRITE_HEADER) : size);
    const req: P9Request = { s: this, r: new P9Reader(msg), w, chain: c };
    let result: number;
    try {
      result = this.#dispatch(type, req);
    } catch (e) {
      if (e instanceof Truncated) result = -EINVAL;
      else if (e instanceof ReplyTooLong) result = -EMSGSIZE;
      else {
        this.log.warn("operation failed", `9P message ${type} failed: ${(e as Error).message}`);
        result = -EIO;
      }
    }
    if (result < 0) return this.#error(tag, -result);
    const out = w.header(type + 1, tag, result);
    if (!c.writeOut(out, 0)) return this.#error(tag, EMSGSIZE);
    return out.length + result;
  }

  #dispatch(type: number, req: P9Request): number {
    if (type === MSG.TVERSION) return this.version(req);
    if (this.msize === 0) return -EPROTO;
    const op = OPS[type];
    return op ? op(req) : -EOPNOTSUPP;
  }

  /** Rlerror ecode[4], if the chain has room for it. */
  #error(tag: number, errno: number): number {
    const w = this.#w;
    w.reset(this.#chain.writableBytes);
    try {
      w.u32(errno);
    } catch {
      this.log.warn(
        "short reply buffer",
        `reply buffer of ${this.#chain.writableBytes} bytes has no room for Rlerror`,
      );
      return 0;
    }
    const out = w.header(MSG.TLERROR + 1, tag);
    return this.#chain.writeOut(out, 0) ? out.length : 0;
  }

  /** Tversion msize[4] version[s] -> Rversion msize[4] version[s]; starts a new session. */
  version({ r, w }: P9Request): number {
    const msize = r.u32();
    const version = new TextDecoder().decode(r.str());
    this.fids.clear();
    this.msize = 0;
    if (msize < MIN_MSIZE) return -EINVAL;
    const agreed = Math.min(msize, MAX_MSIZE);
    const dotL = version === VERSION_9P2000_L || version.startsWith(`${VERSION_9P2000_L}.`);
    w.u32(agreed);
    w.str(dotL ? VERSION_9P2000_L : "unknown");
    if (dotL) this.msize = agreed;
    return 0;
  }

  /** The node of `fid`, if it is known and (a directory) still inside the share. */
  fid(fid: number): Fid | undefined {
    const f = this.fids.get(fid);
    return f && this.fs.insideShare(f.inode) ? f : undefined;
  }
}

/** Tattach fid[4] afid[4] uname[s] aname[s] n_uname[4] -> Rattach qid. Every attach gets the shared root. */
function attach({ s, r, w }: P9Request): number {
  const fid = r.u32();
  r.u32(); // afid: no authentication (Tauth is refused)
  r.str(); // uname
  r.str(); // aname: the share has one tree
  const uid = r.u32();
  if (s.fids.has(fid)) return -EEXIST;
  if (!s.fids.hasRoom()) return -ENFILE;
  const root = s.fs.inodes.get(FUSE_ROOT_ID)!;
  const e = s.fs.statFd(root.fd);
  if (e < 0) return e;
  s.fs.inodes.hold(root);
  s.fids.set(fid, {
    inode: root,
    parent: undefined,
    name: undefined,
    uid: uid === NOFID ? 0 : uid,
    fd: -1,
    openFlags: 0,
  });
  w.qid(ops.qidOfStat(s.fs));
  return 0;
}

const DOTDOT = new Uint8Array([0x2e, 0x2e, 0]);

/**
 * Twalk fid[4] newfid[4] nwname[2] nwname*(wname[s]) -> Rwalk nwqid[2] nwqid*(qid). Each name is one component
 * below the previous node (".." goes up, but never above the shared directory). A walk that fails at its first
 * name is an Rlerror; one that fails later answers the qids it got and makes no newfid.
 */
function walk({ s, r, w }: P9Request): number {
  const fid = r.u32();
  const newfid = r.u32();
  const n = r.u16();
  if (n > MAXWELEM) return -EINVAL;
  const names: Uint8Array[] = [];
  for (let i = 0; i < n; i++) names.push(r.str());
  const from = s.fid(fid);
  if (!from) return -EBADF;
  if (newfid !== fid && s.fids.has(newfid)) return -EEXIST;
  if (!s.fids.hasRoom(newfid)) return -ENFILE;
  const inodes = s.fs.inodes;
  const held: Inode[] = [];
  let cur = from.inode;
  let parent = from.parent;
  let name = from.name;
  let failure = 0;
  let walked = 0;
  const countAt = w.length;
  w.u16(0);
  for (const wname of names) {
    const next = step(s.fs, cur, wname);
    if (typeof next === "number") {
      failure = next;
      break;
    }
    held.push(next.inode);
    parent = next.parent;
    name = next.name;
    cur = next.inode;
    const e = s.fs.statFd(cur.fd);
    if (e < 0) {
      failure = e;
      break;
    }
    w.qid(ops.qidOfStat(s.fs));
    walked++;
  }
  new DataView(w.buf.buffer).setUint16(countAt, walked, true);
  if (walked < names.length) {
    for (const i of held) inodes.forget(i.nodeid, 1);
    return walked === 0 ? failure : 0;
  }
  // The new fid keeps the last node (its walk reference, or one more on the start node) and one on its parent.
  const last = held.pop() ?? inodes.hold(from.inode);
  for (const i of held) inodes.forget(i.nodeid, 1);
  if (parent) inodes.hold(parent);
  s.fids.set(newfid, { inode: last, parent, name, uid: from.uid, fd: -1, openFlags: 0 });
  return 0;
}

/** One walk step from `cur`: the node it reaches (with one reference) and the parent/name that reach it. */
function step(
  fs: HostFs,
  cur: Inode,
  wname: Uint8Array,
): { inode: Inode; parent: Inode | undefined; name: Uint8Array | undefined } | number {
  if (wname.length === 2 && wname[0] === 0x2e && wname[1] === 0x2e) {
    const root = fs.inodes.get(FUSE_ROOT_ID)!;
    if (cur.nodeid === FUSE_ROOT_ID)
      return { inode: fs.inodes.hold(root), parent: undefined, name: undefined };
    if (cur.type !== S_IFDIR) return -ENOTDIR;
    const fd = openat2(cur.fd, DOTDOT, O_PATH | O_DIRECTORY | O_CLOEXEC, 0, 0);
    if (fd < 0) return fd;
    const e = fs.statFd(fd);
    if (e < 0) {
      closeFd(fd);
      return e;
    }
    const up = fs.inodes.add(fs.statKey(), fd, fs.statType());
    if (!fs.insideShare(up)) {
      fs.inodes.forget(up.nodeid, 1);
      return -ENOENT;
    }
    return { inode: up, parent: undefined, name: undefined };
  }
  const e = checkComponent(wname);
  if (e < 0) return e;
  let name = cstrOf(wname);
  let found = fs.lookup(cur, name);
  if (found === -ENOENT && fs.config.asciiCasefold) {
    const other = fs.casefoldName(cur, name);
    if (other) {
      name = other;
      found = fs.lookup(cur, name);
    }
  }
  return typeof found === "number" ? found : { inode: found, parent: cur, name };
}

export function cstrOf(bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(bytes.length + 1);
  out.set(bytes);
  return out;
}

/** Tclunk fid[4] -> Rclunk. */
function clunk({ s, r }: P9Request): number {
  return s.fids.clunk(r.u32()) ? 0 : -EBADF;
}

/** Tflush oldtag[2] -> Rflush: every message is answered before the next is read, so nothing is in flight. */
function flush({ r }: P9Request): number {
  r.u16();
  return 0;
}

/**
 * Tremove fid[4] -> Rremove: removes the name the fid was walked to, if that name still names the fid's file;
 * the fid is clunked whatever the outcome (9P's rule).
 */
function remove({ s, r }: P9Request): number {
  const fid = r.u32();
  const f = s.fid(fid);
  if (!f) {
    s.fids.clunk(fid);
    return -EBADF;
  }
  const result = ops.removeByName(s, f);
  s.fids.clunk(fid);
  return result;
}

/** Tauth: this server needs no authentication. */
const refuse = (): number => -EOPNOTSUPP;

const OPS: Readonly<Record<number, P9Op>> = {
  [MSG.TAUTH]: refuse,
  [MSG.TATTACH]: attach,
  [MSG.TWALK]: walk,
  [MSG.TCLUNK]: clunk,
  [MSG.TFLUSH]: flush,
  [MSG.TREMOVE]: remove,
  [MSG.TLOPEN]: ops.lopen,
  [MSG.TLCREATE]: ops.lcreate,
  [MSG.TREAD]: ops.read,
  [MSG.TWRITE]: ops.write,
  [MSG.TFSYNC]: ops.fsync,
  [MSG.TGETATTR]: ops.getattr,
  [MSG.TSETATTR]: ops.setattr,
  [MSG.TREADDIR]: ops.readdir,
  [MSG.TSTATFS]: ops.statfs,
  [MSG.TREADLINK]: ops.readlink,
  [MSG.TMKDIR]: ops.mkdir,
  [MSG.TSYMLINK]: ops.symlink,
  [MSG.TMKNOD]: ops.mknod,
  [MSG.TLINK]: ops.link,
  [MSG.TRENAMEAT]: ops.renameat,
  [MSG.TRENAME]: ops.rename,
  [MSG.TUNLINKAT]: ops.unlinkAt,
  [MSG.TXATTRWALK]: refuse,
  [MSG.TXATTRCREATE]: refuse,
  [MSG.TLOCK]: ops.lock,
  [MSG.TGETLOCK]: ops.getlock,
};
