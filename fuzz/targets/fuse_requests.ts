// The FUSE requests of the fuse_message target: INIT while the session has none, else mostly an opcode the server
// serves (now and then DESTROY, a second INIT, or one it does not serve), its arguments laid out as fuse.h says
// (layout.ts) with node ids and handles biased towards those the session holds, hostile names, offsets and sizes
// around the limits and past 2^53; and a fuse_in_header whose len sometimes lies.
import {
  O_APPEND,
  O_CREAT,
  O_DIRECTORY,
  O_EXCL,
  O_NOFOLLOW,
  O_RDONLY,
  O_RDWR,
  O_TRUNC,
  O_WRONLY,
  RENAME_EXCHANGE,
  RENAME_NOREPLACE,
  RENAME_WHITEOUT,
  S_IFDIR,
  S_IFREG,
  SEEK_DATA,
  SEEK_HOLE,
} from "../../ffi/fs_calls.ts";
import { FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE, FALLOC_FL_ZERO_RANGE } from "../../ffi/libc.ts";
import * as fuse from "../../src/devices/virtio/fs/layout.ts";
import { OP, type Struct } from "../../src/devices/virtio/fs/layout.ts";
import { MIN_MINOR } from "../../src/devices/virtio/fs/ops_node.ts";
import { XATTR_SIZE_MAX } from "../../src/devices/virtio/fs/ops_xattr.ts";
import { OPS } from "../../src/devices/virtio/fs/server.ts";
import { SLOT_SIZE } from "../chain_fuzzer.ts";
import { FieldWriter } from "../field_writer.ts";
import { count, mode, name, offset } from "../file_server_fields.ts";
import type { Rng } from "../random.ts";
import type { FuseSession } from "./fuse_session.ts";

/** Opcodes the server serves but INIT and DESTROY (sent on their own), and those worth sending more often. */
const SERVED = Object.keys(OPS)
  .map(Number)
  .filter((op) => op !== OP.INIT && op !== OP.DESTROY);
const FAVOURED = [OP.LOOKUP, OP.LOOKUP, OP.CREATE, OP.MKDIR, OP.OPEN, OP.OPENDIR, OP.WRITE, OP.READDIRPLUS];
const OPCODES = [...SERVED, ...FAVOURED];
/** Opcodes whose header names a directory (the rest of the served ones a file, or any node). */
const ON_DIRECTORIES = new Set<number>([
  OP.LOOKUP,
  OP.MKDIR,
  OP.MKNOD,
  OP.CREATE,
  OP.SYMLINK,
  OP.LINK,
  OP.UNLINK,
  OP.RMDIR,
  OP.RENAME,
  OP.RENAME2,
  OP.OPENDIR,
  OP.READDIR,
  OP.READDIRPLUS,
  OP.RELEASEDIR,
  OP.FSYNCDIR,
]);
const nodeType = (opcode: number) => (ON_DIRECTORIES.has(opcode) ? S_IFDIR : S_IFREG);
/** Opcodes below the highest served one that the server does not serve (INTERRUPT, SETUPMAPPING, gaps). */
const UNSERVED = Array.from({ length: Math.max(...SERVED) + 2 }, (_, op) => op).filter((op) => !(op in OPS));

export function pickOpcode(rng: Rng, initialized: boolean): number {
  if (!initialized && rng.chance(0.9)) return OP.INIT;
  const roll = rng.float();
  if (roll < 0.003) return OP.DESTROY;
  if (roll < 0.01) return OP.INIT;
  if (roll < 0.04) return rng.chance(0.7) ? rng.pick(UNSERVED) : rng.u32();
  return rng.pick(OPCODES);
}

const enc = new TextEncoder();
const XATTR_NAMES = [
  "user.a",
  "user.b",
  "security.selinux",
  "security.capability",
  "trusted.t",
  "system.posix_acl_access",
  "user.",
  "",
  `user.${"x".repeat(300)}`,
].map((n) => enc.encode(n));
const SYMLINK_TARGETS = ["../../outside/secret", "/etc/passwd", "f", "d/../..", "x".repeat(5000)].map((t) =>
  enc.encode(t),
);
const OPEN_FLAGS = [
  O_RDONLY,
  O_WRONLY,
  O_RDWR,
  O_RDWR | O_TRUNC,
  O_WRONLY | O_APPEND,
  O_RDWR | O_CREAT | O_EXCL,
  O_RDONLY | O_DIRECTORY,
  O_RDONLY | O_NOFOLLOW,
];
const FALLOCATE_MODES = [
  0,
  FALLOC_FL_KEEP_SIZE,
  FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
  FALLOC_FL_ZERO_RANGE,
];

/** Writes struct `s` at the writer's offset, each field from `values` (0 when absent). */
function put<K extends string>(
  w: FieldWriter,
  s: Struct<K>,
  values: Partial<Record<K, number | bigint>>,
): void {
  const start = w.at;
  for (const [field, type] of s.fields) {
    w.at = start + s.at[field];
    const v = values[field] ?? 0;
    if (type === "u64") w.u64(v);
    else if (type === "u16") w.u16(Number(v));
    else w.u32(Number(v));
  }
  w.at = start + s.size;
}

/** A NUL-terminated value (now and then without its NUL). */
function cString(rng: Rng, w: FieldWriter, bytes: Uint8Array): void {
  w.bytes(bytes);
  if (rng.chance(0.97)) w.u8(0);
}

/** One of the `usual` values, or now and then `other()`. */
const mostly = (rng: Rng, usual: readonly number[], other: () => number | bigint): number | bigint =>
  rng.chance(0.85) ? rng.pick(usual) : other();

/** A request under construction: its arguments so far and the node its header names. */
interface Draft {
  readonly w: FieldWriter;
  nodeid: bigint | number;
}

/** The arguments of `opcode`, after fuse_in_header. */
function writeArgs(rng: Rng, opcode: number, d: Draft, session: FuseSession): void {
  const w = d.w;
  /** A handle the session holds, and the header names its node (mostly). */
  const handle = () => {
    const h = session.handle(rng, nodeType(opcode));
    if (rng.chance(0.9)) d.nodeid = h.nodeid;
    return h.fh;
  };
  switch (opcode) {
    case OP.INIT:
      put(w, fuse.INIT_IN, {
        major: mostly(rng, [fuse.FUSE_KERNEL_VERSION], () =>
          rng.pick([fuse.FUSE_KERNEL_VERSION + 1, rng.u32()]),
        ),
        minor: mostly(
          rng,
          [fuse.FUSE_KERNEL_MINOR_VERSION, fuse.FUSE_KERNEL_MINOR_VERSION + rng.int(10)],
          () => rng.pick([MIN_MINOR - 1, rng.u32()]),
        ),
        max_readahead: rng.u32(),
        flags: rng.chance(0.5) ? 0xffff_ffff : rng.u32(),
      });
      // A newer kernel's fuse_init_in goes on (flags2 and unused words).
      if (rng.chance(0.5)) w.at += rng.int(64);
      return;
    case OP.LOOKUP:
    case OP.UNLINK:
    case OP.RMDIR:
      cString(rng, w, name(rng));
      return;
    case OP.FORGET:
      put(w, fuse.FORGET_IN, { nlookup: mostly(rng, [1, 1, 2], () => rng.u64()) });
      return;
    case OP.BATCH_FORGET: {
      const n = rng.int(5);
      put(w, fuse.BATCH_FORGET_IN, { count: mostly(rng, [n], () => rng.u32()) });
      for (let i = 0; i < n; i++)
        put(w, fuse.FORGET_ONE, { nodeid: session.node(rng), nlookup: mostly(rng, [1, 2], () => rng.u64()) });
      return;
    }
    case OP.GETATTR:
      put(w, fuse.GETATTR_IN, {
        getattr_flags: mostly(rng, [0, fuse.FUSE_GETATTR_FH], () => rng.u32()),
        fh: handle(),
      });
      return;
    case OP.SETATTR:
      put(w, fuse.SETATTR_IN, {
        // Any combination of the FATTR_* bits, mostly.
        valid: rng.chance(0.8) ? rng.int(fuse.FATTR_MTIME_NOW * 2) : rng.u32(),
        fh: handle(),
        size: offset(rng),
        atime: rng.u64(),
        mtime: rng.u64(),
        atimensec: rng.u32(),
        mtimensec: rng.u32(),
        mode: mode(rng),
        uid: mostly(rng, [0], () => rng.u32()),
        gid: mostly(rng, [0], () => rng.u32()),
      });
      return;
    case OP.ACCESS:
      put(w, fuse.ACCESS_IN, { mask: rng.chance(0.8) ? rng.int(8) : rng.u32() });
      return;
    case OP.SYMLINK:
      cString(rng, w, name(rng));
      cString(rng, w, rng.chance(0.7) ? rng.pick(SYMLINK_TARGETS) : name(rng));
      return;
    case OP.MKNOD:
      put(w, fuse.MKNOD_IN, { mode: mode(rng), rdev: mostly(rng, [0], () => rng.u32()), umask: rng.u32() });
      cString(rng, w, name(rng));
      return;
    case OP.MKDIR:
      put(w, fuse.MKDIR_IN, { mode: mode(rng), umask: rng.u32() });
      cString(rng, w, name(rng));
      return;
    case OP.LINK:
      put(w, fuse.LINK_IN, { oldnodeid: session.node(rng, S_IFREG) });
      cString(rng, w, name(rng));
      return;
    case OP.RENAME:
    case OP.RENAME2:
      if (opcode === OP.RENAME) put(w, fuse.RENAME_IN, { newdir: session.node(rng, S_IFDIR) });
      else
        put(w, fuse.RENAME2_IN, {
          newdir: session.node(rng, S_IFDIR),
          flags: mostly(rng, [0, RENAME_NOREPLACE, RENAME_EXCHANGE, RENAME_WHITEOUT], () => rng.u32()),
        });
      cString(rng, w, name(rng));
      cString(rng, w, name(rng));
      return;
    case OP.OPEN:
    case OP.OPENDIR:
      put(w, fuse.OPEN_IN, { flags: mostly(rng, OPEN_FLAGS, () => rng.u32()) });
      return;
    case OP.CREATE:
      put(w, fuse.CREATE_IN, {
        flags: mostly(rng, OPEN_FLAGS, () => rng.u32()),
        mode: mode(rng),
        umask: rng.u32(),
      });
      cString(rng, w, name(rng));
      return;
    case OP.READ:
    case OP.READDIR:
    case OP.READDIRPLUS:
      put(w, fuse.READ_IN, { fh: handle(), offset: offset(rng), size: count(rng) });
      return;
    case OP.WRITE: {
      // Mostly data that fits in the request's slot.
      const size = rng.chance(0.7) ? rng.int(SLOT_SIZE / 4) : count(rng);
      put(w, fuse.WRITE_IN, { fh: handle(), offset: offset(rng), size });
      w.at += Math.min(size, SLOT_SIZE);
      return;
    }
    case OP.RELEASE:
    case OP.RELEASEDIR:
      put(w, fuse.RELEASE_IN, { fh: handle(), flags: rng.u32() });
      return;
    case OP.FLUSH:
      put(w, fuse.FLUSH_IN, { fh: handle() });
      return;
    case OP.FSYNC:
    case OP.FSYNCDIR:
      put(w, fuse.FSYNC_IN, {
        fh: handle(),
        fsync_flags: mostly(rng, [0, fuse.FUSE_FSYNC_FDATASYNC], () => rng.u32()),
      });
      return;
    case OP.SETXATTR: {
      const size = rng.chance(0.85)
        ? rng.pick([0, rng.int(64), XATTR_SIZE_MAX, XATTR_SIZE_MAX + 1])
        : rng.u32();
      put(w, fuse.SETXATTR_IN, { size, flags: rng.chance(0.8) ? rng.int(3) : rng.u32() });
      cString(rng, w, rng.pick(XATTR_NAMES));
      w.at += Math.min(size, SLOT_SIZE);
      return;
    }
    case OP.GETXATTR:
    case OP.LISTXATTR:
      put(w, fuse.GETXATTR_IN, { size: mostly(rng, [0, rng.int(64), XATTR_SIZE_MAX], () => rng.u32()) });
      if (opcode === OP.GETXATTR) cString(rng, w, rng.pick(XATTR_NAMES));
      return;
    case OP.REMOVEXATTR:
      cString(rng, w, rng.pick(XATTR_NAMES));
      return;
    case OP.FALLOCATE:
      put(w, fuse.FALLOCATE_IN, {
        fh: handle(),
        offset: offset(rng),
        length: rng.chance(0.9) ? count(rng) : rng.u64(),
        mode: mostly(rng, FALLOCATE_MODES, () => rng.u32()),
      });
      return;
    case OP.LSEEK:
      put(w, fuse.LSEEK_IN, {
        fh: handle(),
        offset: offset(rng),
        whence: mostly(rng, [SEEK_DATA, SEEK_HOLE], () => rng.u32()),
      });
      return;
    case OP.COPY_FILE_RANGE: {
      const out = session.handle(rng);
      put(w, fuse.COPY_FILE_RANGE_IN, {
        fh_in: handle(),
        off_in: offset(rng),
        nodeid_out: rng.chance(0.9) ? out.nodeid : session.node(rng),
        fh_out: out.fh,
        off_out: offset(rng),
        len: rng.chance(0.9) ? count(rng) : rng.u64(),
        flags: mostly(rng, [0], () => rng.u64()),
      });
      return;
    }
    default:
      // READLINK, STATFS, DESTROY and unserved opcodes: no arguments, or a few random bytes.
      if (rng.chance(0.3)) w.at += rng.int(64);
  }
}

/**
 * Writes one request into `msg` (zeroed first): fuse_in_header and the arguments of `opcode`; returns its length
 * (WRITE's and SETXATTR's data included, at most msg.length).
 */
export function writeRequest(rng: Rng, msg: Uint8Array, opcode: number, session: FuseSession): number {
  msg.fill(0);
  const d: Draft = {
    w: new FieldWriter(msg, fuse.IN_HEADER.size),
    nodeid: session.node(rng, nodeType(opcode)),
  };
  writeArgs(rng, opcode, d, session);
  const length = d.w.at;
  const lie = () =>
    rng.pick([rng.u32(), length + rng.int(64) - 32, fuse.IN_HEADER.size - 1, fuse.IN_HEADER.size]);
  put(new FieldWriter(msg), fuse.IN_HEADER, {
    len: rng.chance(0.85) ? length : lie(),
    opcode,
    unique: rng.u64(),
    nodeid: d.nodeid,
    uid: mostly(rng, [0], () => rng.u32()),
    gid: mostly(rng, [0], () => rng.u32()),
    pid: rng.u32(),
    total_extlen: rng.chance(0.95) ? 0 : rng.int(0x10000),
  });
  return Math.min(length, msg.length);
}

/**
 * Keeps a FALLOCATE's or COPY_FILE_RANGE's length from MAX_WRITE up to 2^53 below MAX_WRITE (after mutations too):
 * the server passes such lengths to the host as asked (a guest may fill its share), and this target's share lies
 * on the host's real disk. From 2^53 up, lengths the server refuses itself are left as they are.
 */
export function boundHostAllocation(msg: Uint8Array): void {
  const v = new DataView(msg.buffer, msg.byteOffset, msg.byteLength);
  const opcode = v.getUint32(fuse.IN_HEADER.at.opcode, true);
  const field =
    opcode === OP.FALLOCATE
      ? fuse.FALLOCATE_IN.at.length
      : opcode === OP.COPY_FILE_RANGE
        ? fuse.COPY_FILE_RANGE_IN.at.len
        : undefined;
  if (field === undefined) return;
  const at = fuse.IN_HEADER.size + field;
  const n = v.getBigUint64(at, true);
  if (n >= BigInt(fuse.MAX_WRITE) && n < 2n ** 53n) v.setBigUint64(at, n % BigInt(fuse.MAX_WRITE), true);
}
