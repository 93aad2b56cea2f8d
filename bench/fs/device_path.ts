// Microbenchmark of the device-side virtio-fs path, without the nested rig: a VirtioFs over a temp directory, its
// request queue in fake guest memory (FakeDriverQueue), one request in flight at a time (post a chain, queueNotify,
// read the used entry and the reply's fuse_out_header). The requests are laid out as Linux's virtiofs driver lays
// them out (fs/fuse/virtio_fs.c sg_init_fuse_args: fuse_in_header, then each argument in a buffer of its own, then
// fuse_out_header and each reply argument; every chain of more than one buffer in an indirect table, as
// virtqueue_add_sgs does with VIRTIO_RING_F_INDIRECT_DESC), and follow bench/fs/run.ts's guest workload: the
// small-file churn of file-churn (create = LOOKUP miss + CREATE + FLUSH + RELEASE; stat = LOOKUP + GETATTR;
// unlink = LOOKUP + UNLINK + FORGET) on FILES files in a subdirectory of the share, and 1 MiB READ/WRITE of 256
// scattered 4 KiB pages. Each is compared with the bare system calls a server cannot avoid for it (openat2,
// statx, unlinkat, close, preadv, pwritev, made here directly), so the share spent outside them shows. The same
// churn then goes through a VirtioP9 as Linux's v9fs sends it (Twalk, Tlcreate, Tgetattr, Tunlinkat, Tclunk).
// Usage: [TMPDIR=DIR] bun bench/fs/device_path.ts [FILES]   (default 10000; 1 MiB requests: 256 x 4 KiB; best of 5 runs)
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, rmSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  AT_EMPTY_PATH,
  AT_SYMLINK_NOFOLLOW,
  closeFd,
  O_CLOEXEC,
  O_CREAT,
  O_DIRECTORY,
  O_NOFOLLOW,
  O_PATH,
  O_RDWR,
  openat2,
  preadv,
  pwritev,
  STATX_SIZE,
  statx,
  unlinkat,
} from "../../ffi/fs_calls.ts";
import { open } from "../../ffi/libc.ts";
import { VIRTQ_DESC_F_INDIRECT, VIRTQ_DESC_SIZE } from "../../src/devices/virtio/constants.ts";
import { FsContext } from "../../src/devices/virtio/fs/context.ts";
import { HostFs } from "../../src/devices/virtio/fs/host_fs.ts";
import { VirtioFs } from "../../src/devices/virtio/fs/device.ts";
import { RESOLVE_IN_SHARE } from "../../src/devices/virtio/fs/host_fs.ts";
import { IdMap } from "../../src/devices/virtio/fs/id_map.ts";
import { HandleTable } from "../../src/devices/virtio/fs/inodes.ts";
import {
  ATTR_OUT_SIZE,
  CREATE_IN,
  ENTRY_OUT_HEAD,
  ENTRY_OUT_SIZE,
  FLUSH_IN,
  FORGET_IN,
  FUSE_KERNEL_VERSION,
  GETATTR_IN,
  IN_HEADER,
  INIT_IN,
  OP,
  OPEN_IN,
  OPEN_OUT,
  OUT_HEADER,
  READ_IN,
  RELEASE_IN,
  WRITE_IN,
  WRITE_OUT,
} from "../../src/devices/virtio/fs/layout.ts";
import { VirtioP9 } from "../../src/devices/virtio/p9/device.ts";
import { MSG, NOFID } from "../../src/devices/virtio/p9/protocol.ts";
import { DESC_BASE, FakeDriverQueue, FakeInterrupt } from "../../src/devices/virtio/testing.ts";
import { IovecList } from "../../src/disk/raw.ts";

const FILES = Number(process.argv[2] ?? 10_000);
const PAGE = 4096;
const SEGMENTS = 256;
const BIG_BYTES = 64 << 20;
const REQUEST_QUEUE = 1;
const ENOENT = 2;

if (!(FILES > 0 && FILES <= 100_000)) {
  console.error("usage: bun bench/fs/device_path.ts [FILES] (1 to 100000)");
  process.exit(2);
}

// The share (a tmpfs, /dev/shm, as the rig's shares are; TMPDIR=DIR picks another): FILES small files go in share/files (as file-churn's MNT/files); share/big is the 1 MiB I/O file.
const base = process.env.TMPDIR ?? (existsSync("/dev/shm") ? "/dev/shm" : tmpdir());
const dir = mkdtempSync(join(base, "fs-device-path-"));
const share = join(dir, "share");
mkdirSync(join(share, "files"), { recursive: true });
{
  const fd = openSync(join(share, "big"), "w");
  const chunk = new Uint8Array(1 << 20);
  for (let i = 0; i < BIG_BYTES / chunk.length; i++) writeSync(fd, chunk.fill(i & 0xff));
  closeSync(fd);
}
const rootFd = open(share, O_PATH | O_DIRECTORY | O_CLOEXEC);
const ctx = new FsContext(
  {
    cache: "auto",
    timeout: 1,
    writeback: false,
    posixAcl: false,
    rewriteSecurityXattrs: false,
    asciiCasefold: false,
    uidMap: new IdMap(undefined),
    gidMap: new IdMap(undefined),
  },
  rootFd,
  new HandleTable(),
  open("/proc/self/fd", O_PATH | O_DIRECTORY | O_CLOEXEC),
);
const dev = new VirtioFs("bench", ctx);
// Guest RAM: rings at 0x1000.., then request and reply buffers, tables, and 2 x 1 MiB of data room.
const drv = new FakeDriverQueue(256, undefined, 8 << 20);
dev.activate(drv.mem, new FakeInterrupt(), new Map([[REQUEST_QUEUE, drv.activate()]]));
const mem = drv.mem;

const inHeader = drv.alloc(IN_HEADER.size);
const args = drv.alloc(4096);
const outHeader = drv.alloc(OUT_HEADER.size);
const outArgs = drv.alloc(4096);
const dataAddr = (drv.alloc(2 * SEGMENTS * PAGE + PAGE) + PAGE - 1) & ~(PAGE - 1);
/** Guest address of data page `s`: every other page, as scattered as a guest's page cache. */
const segment = (s: number) => dataAddr + 2 * s * PAGE;

interface Buf {
  readonly addr: number;
  readonly len: number;
  readonly writable?: boolean;
}

/** Request kinds, each a head descriptor of its own pointing at a prebuilt indirect table. */
let nextHead = 0;
function requestShape(buffers: readonly Buf[]): number {
  const head = nextHead++;
  const table = drv.alloc(buffers.length * VIRTQ_DESC_SIZE);
  drv.writeLinkedDescriptors(table, 0, buffers);
  drv.writeDescriptor(DESC_BASE, head, {
    addr: table,
    len: buffers.length * VIRTQ_DESC_SIZE,
    flags: VIRTQ_DESC_F_INDIRECT,
    next: 0,
  });
  return head;
}

const NAME_LEN = 7; // "f00042\0"
const hdr = { addr: inHeader, len: IN_HEADER.size };
const outHdr = { addr: outHeader, len: OUT_HEADER.size, writable: true };
const reply = (len: number) => ({ addr: outArgs, len, writable: true });
const pages = (writable: boolean) =>
  Array.from({ length: SEGMENTS }, (_, s) => ({ addr: segment(s), len: PAGE, writable }));
const SHAPES = {
  init: requestShape([hdr, { addr: args, len: 64 }, outHdr, reply(64)]),
  lookup: requestShape([hdr, { addr: args, len: NAME_LEN }, outHdr, reply(ENTRY_OUT_SIZE)]),
  create: requestShape([
    hdr,
    { addr: args, len: CREATE_IN.size },
    { addr: args + CREATE_IN.size, len: NAME_LEN },
    outHdr,
    reply(ENTRY_OUT_SIZE),
    { addr: outArgs + ENTRY_OUT_SIZE, len: OPEN_OUT.size, writable: true },
  ]),
  getattr: requestShape([hdr, { addr: args, len: GETATTR_IN.size }, outHdr, reply(ATTR_OUT_SIZE)]),
  flush: requestShape([hdr, { addr: args, len: FLUSH_IN.size }, outHdr]),
  release: requestShape([hdr, { addr: args, len: RELEASE_IN.size }, outHdr]),
  unlink: requestShape([hdr, { addr: args, len: NAME_LEN }, outHdr]),
  // FORGET has no reply (virtio_fs_send_forget: the hiprio queue, one readable buffer); here on the request queue.
  forget: requestShape([hdr, { addr: args, len: FORGET_IN.size }]),
  open: requestShape([hdr, { addr: args, len: OPEN_IN.size }, outHdr, reply(OPEN_OUT.size)]),
  read: requestShape([hdr, { addr: args, len: READ_IN.size }, outHdr, ...pages(true)]),
  write: requestShape([
    hdr,
    { addr: args, len: WRITE_IN.size },
    ...pages(false),
    outHdr,
    reply(WRITE_OUT.size),
  ]),
};

let unique = 1n;
const [uid, gid] = [process.getuid!(), process.getgid!()];
/** One QD1 round trip: fuse_in_header for `opcode` on `nodeid` (args already in place), publish, notify, check. */
function roundTrip(head: number, opcode: number, nodeid: number, argsLen: number, expectError = 0): void {
  mem.writeU32(inHeader + IN_HEADER.at.len, IN_HEADER.size + argsLen);
  mem.writeU32(inHeader + IN_HEADER.at.opcode, opcode);
  mem.writeU64(inHeader + IN_HEADER.at.unique, unique++);
  mem.writeU64(inHeader + IN_HEADER.at.nodeid, BigInt(nodeid));
  mem.writeU32(inHeader + IN_HEADER.at.uid, uid);
  mem.writeU32(inHeader + IN_HEADER.at.gid, gid);
  const before = drv.usedIdx();
  drv.publish(head);
  dev.queueNotify(REQUEST_QUEUE);
  if (drv.usedIdx() === before) throw new Error(`opcode ${opcode}: request was not completed`);
  if (opcode === OP.FORGET) return;
  const error = mem.readU32(outHeader + 4) | 0;
  if (error !== -expectError) throw new Error(`opcode ${opcode}: error ${error}, expected ${-expectError}`);
}

const nameBytes = (i: number) => new TextEncoder().encode(`f${String(i).padStart(5, "0")}\0`);
const names = Array.from({ length: FILES }, (_, i) => nameBytes(i));

// INIT first: every other request is refused until it.
mem.writeU32(args + INIT_IN.at.major, FUSE_KERNEL_VERSION);
mem.writeU32(args + INIT_IN.at.minor, 38);
mem.writeU32(args + INIT_IN.at.max_readahead, 131072);
mem.writeU32(args + INIT_IN.at.flags, 0xffff_ffff);
roundTrip(SHAPES.init, OP.INIT, 0, 64);

/** LOOKUP of `name` below `parent`; its node id (0 for a miss). */
function lookup(parent: number, name: Uint8Array, expectError = 0): number {
  mem.write(args, name);
  roundTrip(SHAPES.lookup, OP.LOOKUP, parent, name.length, expectError);
  return expectError ? 0 : Number(mem.readU64(outArgs + ENTRY_OUT_HEAD.at.nodeid));
}

let filesDir = 0;
const fhs = new Float64Array(FILES);
const nodes = new Float64Array(FILES);

function createOne(i: number): void {
  lookup(filesDir, names[i]!, ENOENT);
  mem.writeU32(args + CREATE_IN.at.flags, O_RDWR | O_CREAT | 0o100000);
  mem.writeU32(args + CREATE_IN.at.mode, 0o100644);
  mem.writeU32(args + CREATE_IN.at.umask, 0o022);
  mem.write(args + CREATE_IN.size, names[i]!);
  roundTrip(SHAPES.create, OP.CREATE, filesDir, CREATE_IN.size + NAME_LEN);
  nodes[i] = Number(mem.readU64(outArgs + ENTRY_OUT_HEAD.at.nodeid));
  fhs[i] = Number(mem.readU64(outArgs + ENTRY_OUT_SIZE + OPEN_OUT.at.fh));
  mem.writeU64(args + FLUSH_IN.at.fh, BigInt(fhs[i]!));
  roundTrip(SHAPES.flush, OP.FLUSH, nodes[i]!, FLUSH_IN.size);
  mem.writeU64(args + RELEASE_IN.at.fh, BigInt(fhs[i]!));
  roundTrip(SHAPES.release, OP.RELEASE, nodes[i]!, RELEASE_IN.size);
}

function forget(nodeid: number): void {
  mem.writeU64(args + FORGET_IN.at.nlookup, 1n);
  roundTrip(SHAPES.forget, OP.FORGET, nodeid, FORGET_IN.size);
}

function statOne(i: number): void {
  const node = lookup(filesDir, names[i]!);
  mem.writeU32(args + GETATTR_IN.at.getattr_flags, 0);
  roundTrip(SHAPES.getattr, OP.GETATTR, node, GETATTR_IN.size);
  nodes[i] = node;
}

function unlinkOne(i: number): void {
  const node = lookup(filesDir, names[i]!);
  mem.write(args, names[i]!);
  roundTrip(SHAPES.unlink, OP.UNLINK, filesDir, NAME_LEN);
  forget(node); // the LOOKUP's reference
  forget(node); // CREATE's (the guest forgets it when the dentry goes)
}

/** Best of ROUNDS timed runs (the machine is shared: the best run is the least disturbed one). */
const ROUNDS = 5;
function timeIt(n: number, body: (i: number) => void): number {
  for (let i = 0; i < Math.min(n, 100); i++) body(i); // warm-up (JIT, page cache)
  let best = Number.POSITIVE_INFINITY;
  for (let round = 0; round < ROUNDS; round++) {
    const t0 = performance.now();
    for (let i = 0; i < n; i++) body(i);
    best = Math.min(best, ((performance.now() - t0) * 1000) / n);
  }
  return best;
}

console.log(`virtio-fs device path, ${FILES} files, queue depth 1, share in ${base}`);
filesDir = lookup(1, new TextEncoder().encode("files\0"));

// Small files: the three phases run in order each round (create needs none, stat and unlink need them all).
const st = new Uint8Array(STATX_SIZE);
const churn = { create: Infinity, stat: Infinity, unlink: Infinity };
for (let round = 0; round < ROUNDS + 1; round++) {
  // Round 0 is the warm-up.
  for (const [name, body] of [
    ["create", createOne],
    ["stat", statOne],
    ["unlink", unlinkOne],
  ] as const) {
    const t0 = performance.now();
    for (let i = 0; i < FILES; i++) body(i);
    const perOp = ((performance.now() - t0) * 1000) / FILES;
    if (round > 0) churn[name] = Math.min(churn[name], perOp);
    // stat's nodes are forgotten as drop_caches makes the guest do, so unlink looks them up again.
    if (name === "stat") for (let i = 0; i < FILES; i++) forget(nodes[i]!);
  }
}

// The bare calls for the same work, relative to the directory's O_PATH descriptor.
const filesFd = openat2(
  rootFd,
  new TextEncoder().encode("files\0"),
  O_PATH | O_DIRECTORY | O_CLOEXEC,
  0,
  RESOLVE_IN_SHARE,
);
const bare = { create: Infinity, stat: Infinity, unlink: Infinity };
for (let round = 0; round < ROUNDS + 1; round++) {
  let t0 = performance.now();
  for (let i = 0; i < FILES; i++) {
    // LOOKUP miss, then the create and the node's own descriptor and stat; close at RELEASE.
    if (openat2(filesFd, names[i]!, O_PATH | O_NOFOLLOW | O_CLOEXEC, 0, RESOLVE_IN_SHARE) !== -ENOENT)
      throw new Error("bare lookup found a file");
    const fd = openat2(
      filesFd,
      names[i]!,
      O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC,
      0o644,
      RESOLVE_IN_SHARE,
    );
    if (fd < 0) throw new Error(`bare create: errno ${-fd}`);
    if (statx(fd, null, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW, st) < 0) throw new Error("bare statx");
    closeFd(fd);
  }
  const create = ((performance.now() - t0) * 1000) / FILES;
  t0 = performance.now();
  for (let i = 0; i < FILES; i++) {
    // LOOKUP: the node's O_PATH descriptor and its stat; FORGET closes it.
    const fd = openat2(filesFd, names[i]!, O_PATH | O_NOFOLLOW | O_CLOEXEC, 0, RESOLVE_IN_SHARE);
    if (fd < 0 || statx(fd, null, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW, st) < 0) throw new Error("bare stat");
    closeFd(fd);
  }
  const stat = ((performance.now() - t0) * 1000) / FILES;
  t0 = performance.now();
  for (let i = 0; i < FILES; i++) {
    const fd = openat2(filesFd, names[i]!, O_PATH | O_NOFOLLOW | O_CLOEXEC, 0, RESOLVE_IN_SHARE);
    if (fd < 0 || statx(fd, null, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW, st) < 0)
      throw new Error("bare lookup");
    if (unlinkat(filesFd, names[i]!, 0) < 0) throw new Error("bare unlink");
    closeFd(fd);
  }
  const unlink = ((performance.now() - t0) * 1000) / FILES;
  if (round > 0) {
    bare.create = Math.min(bare.create, create);
    bare.stat = Math.min(bare.stat, stat);
    bare.unlink = Math.min(bare.unlink, unlink);
  }
}
closeFd(filesFd);

const share_ = (d: number, r: number) =>
  `${(d - r).toFixed(2)} µs outside the syscalls (${((100 * (d - r)) / d).toFixed(0)}%)`;
const row = (label: string, d: number, r: number) =>
  console.log(
    `${label.padEnd(52)} ${d.toFixed(2).padStart(8)} µs/op, bare ${r.toFixed(2)} µs: ${share_(d, r)}`,
  );
row("create: LOOKUP miss + CREATE + FLUSH + RELEASE", churn.create, bare.create);
row("stat: LOOKUP + GETATTR (+ FORGET)", churn.stat, bare.stat);
row("unlink: LOOKUP + UNLINK + 2 FORGET", churn.unlink, bare.unlink);

// 1 MiB READ and WRITE on one open handle of share/big, at random 1 MiB offsets.
const bigNode = lookup(1, new TextEncoder().encode("big\0"));
mem.writeU32(args + OPEN_IN.at.flags, O_RDWR);
roundTrip(SHAPES.open, OP.OPEN, bigNode, OPEN_IN.size);
const bigFh = mem.readU64(outArgs + OPEN_OUT.at.fh);
const N_IO = 500;
const offsets = Array.from({ length: N_IO }, (_, i) => ((i * 37) % (BIG_BYTES >> 20)) << 20);
const devRead = timeIt(N_IO, (i) => {
  mem.writeU64(args + READ_IN.at.fh, bigFh);
  mem.writeU64(args + READ_IN.at.offset, BigInt(offsets[i]!));
  mem.writeU32(args + READ_IN.at.size, SEGMENTS * PAGE);
  roundTrip(SHAPES.read, OP.READ, bigNode, READ_IN.size);
  if (mem.readU32(outHeader) !== OUT_HEADER.size + SEGMENTS * PAGE) throw new Error("short READ");
});
const devWrite = timeIt(N_IO, (i) => {
  mem.writeU64(args + WRITE_IN.at.fh, bigFh);
  mem.writeU64(args + WRITE_IN.at.offset, BigInt(offsets[i]!));
  mem.writeU32(args + WRITE_IN.at.size, SEGMENTS * PAGE);
  roundTrip(SHAPES.write, OP.WRITE, bigNode, WRITE_IN.size + SEGMENTS * PAGE);
  if (mem.readU32(outArgs + WRITE_OUT.at.size) !== SEGMENTS * PAGE) throw new Error("short WRITE");
});
const bigFd = openat2(rootFd, new TextEncoder().encode("big\0"), O_RDWR | O_CLOEXEC, 0, RESOLVE_IN_SHARE);
const iov = new IovecList();
for (let s = 0; s < SEGMENTS; s++) iov.push(mem.hostAddress(segment(s), PAGE), PAGE);
const rawRead = timeIt(N_IO, (i) => {
  if (preadv(bigFd, iov.words, iov.count, offsets[i]!) !== SEGMENTS * PAGE) throw new Error("short preadv");
});
const rawWrite = timeIt(N_IO, (i) => {
  if (pwritev(bigFd, iov.words, iov.count, offsets[i]!) !== SEGMENTS * PAGE) throw new Error("short pwritev");
});
closeFd(bigFd);
row("1 MiB READ (256 x 4 KiB pages) vs preadv", devRead, rawRead);
row("1 MiB WRITE (256 x 4 KiB pages) vs pwritev", devWrite, rawWrite);

ctx.handles.clear();
ctx.inodes.clear();

// virtio-9p: the same churn as Linux's v9fs (9P2000.L, cache=none) sends it, on a share of its own. Each message
// is one readable buffer and the reply one writable buffer (9pnet_virtio's p9_virtio_request), in an indirect
// table. create = Twalk miss + Twalk clone + Tlcreate + Tclunk; stat = Twalk + Tgetattr + Tclunk;
// unlink = Twalk + Tunlinkat + Tclunk.
const p9Share = join(dir, "p9share");
mkdirSync(join(p9Share, "files"), { recursive: true });
const p9Root = open(p9Share, O_PATH | O_DIRECTORY | O_CLOEXEC);
const p9Fs = new HostFs(
  { asciiCasefold: false, uidMap: new IdMap(undefined), gidMap: new IdMap(undefined) },
  p9Root,
  open("/proc/self/fd", O_PATH | O_DIRECTORY | O_CLOEXEC),
);
const p9Device = new VirtioP9("bench9p", p9Fs);
const p9drv = new FakeDriverQueue(256, undefined, 1 << 20);
p9Device.activate(p9drv.mem, new FakeInterrupt(), new Map([[0, p9drv.activate()]]));
const p9mem = p9drv.mem;
const p9Msg = p9drv.alloc(4096);
const p9Reply = p9drv.alloc(8192);
const p9Table = p9drv.alloc(2 * VIRTQ_DESC_SIZE);
p9drv.writeLinkedDescriptors(p9Table, 0, [
  { addr: p9Msg, len: 0 },
  { addr: p9Reply, len: 8192, writable: true },
]);
p9drv.writeDescriptor(DESC_BASE, 0, {
  addr: p9Table,
  len: 2 * VIRTQ_DESC_SIZE,
  flags: VIRTQ_DESC_F_INDIRECT,
  next: 0,
});

/** A T-message being built at p9Msg: size[4] type[1] tag[2], then the fields. */
let p9At = 0;
const p9 = {
  begin(type: number): void {
    p9mem.writeU8(p9Msg + 4, type);
    p9mem.writeU16(p9Msg + 5, 1);
    p9At = 7;
  },
  u32(v: number): void {
    p9mem.writeU32(p9Msg + p9At, v);
    p9At += 4;
  },
  u64(v: bigint): void {
    p9mem.writeU64(p9Msg + p9At, v);
    p9At += 8;
  },
  str(bytes: Uint8Array): void {
    p9mem.writeU16(p9Msg + p9At, bytes.length);
    p9mem.write(p9Msg + p9At + 2, bytes);
    p9At += 2 + bytes.length;
  },
  /** Sends the message; its R-type (Rlerror's errno checked against `expectErrno`). */
  send(expectErrno = 0): void {
    p9mem.writeU32(p9Msg, p9At);
    p9mem.writeU32(p9Table + 8, p9At); // the readable descriptor's len: the message, as 9pnet_virtio gives it
    const before = p9drv.usedIdx();
    p9drv.publish(0);
    p9Device.queueNotify(0);
    if (p9drv.usedIdx() === before) throw new Error("9P message was not completed");
    const type = p9mem.readU8(p9Reply + 4);
    const errno = type === MSG.RLERROR ? p9mem.readU32(p9Reply + 7) : 0;
    if (errno !== expectErrno) throw new Error(`9P message: errno ${errno}, expected ${expectErrno}`);
  },
};

const bare9 = (names: readonly Uint8Array[]) => names.map((n) => n.subarray(0, n.length - 1)); // 9P strings: no NUL
const names9 = bare9(names);
p9.begin(MSG.TVERSION);
p9.u32(8192 + 11);
p9.str(new TextEncoder().encode("9P2000.L"));
p9.send();
const [ROOT_FID, DIR_FID, NEW_FID] = [1, 2, 3];
p9.begin(MSG.TATTACH);
p9.u32(ROOT_FID);
p9.u32(NOFID);
p9.str(new TextEncoder().encode("root"));
p9.str(new Uint8Array(0));
p9.u32(uid);
p9.send();
function walk(from: number, to: number, name?: Uint8Array, expectErrno = 0): void {
  p9.begin(MSG.TWALK);
  p9.u32(from);
  p9.u32(to);
  if (name) {
    p9mem.writeU16(p9Msg + p9At, 1);
    p9At += 2;
    p9.str(name);
  } else {
    p9mem.writeU16(p9Msg + p9At, 0);
    p9At += 2;
  }
  p9.send(expectErrno);
}
function clunk(fid: number): void {
  p9.begin(MSG.TCLUNK);
  p9.u32(fid);
  p9.send();
}
walk(ROOT_FID, DIR_FID, new TextEncoder().encode("files"));
const churn9 = { create: Infinity, stat: Infinity, unlink: Infinity };
const p9Phases = {
  create(i: number): void {
    walk(DIR_FID, NEW_FID, names9[i]!, ENOENT);
    walk(DIR_FID, NEW_FID);
    p9.begin(MSG.TLCREATE);
    p9.u32(NEW_FID);
    p9.str(names9[i]!);
    p9.u32(O_RDWR | 0o100000);
    p9.u32(0o644);
    p9.u32(gid);
    p9.send();
    clunk(NEW_FID);
  },
  stat(i: number): void {
    walk(DIR_FID, NEW_FID, names9[i]!);
    p9.begin(MSG.TGETATTR);
    p9.u32(NEW_FID);
    p9.u64(0x3fffn);
    p9.send();
    clunk(NEW_FID);
  },
  unlink(i: number): void {
    walk(DIR_FID, NEW_FID, names9[i]!);
    p9.begin(MSG.TUNLINKAT);
    p9.u32(DIR_FID);
    p9.str(names9[i]!);
    p9.u32(0);
    p9.send();
    clunk(NEW_FID);
  },
};
for (let round = 0; round < ROUNDS + 1; round++) {
  for (const name of ["create", "stat", "unlink"] as const) {
    const t0 = performance.now();
    for (let i = 0; i < FILES; i++) p9Phases[name](i);
    const perOp = ((performance.now() - t0) * 1000) / FILES;
    if (round > 0) churn9[name] = Math.min(churn9[name], perOp);
  }
}
row("9p create: Twalk miss + clone + Tlcreate + Tclunk", churn9.create, bare.create);
row("9p stat: Twalk + Tgetattr + Tclunk", churn9.stat, bare.stat);
row("9p unlink: Twalk + Tunlinkat + Tclunk", churn9.unlink, bare.unlink);
p9Device.reset();

rmSync(dir, { recursive: true, force: true });
