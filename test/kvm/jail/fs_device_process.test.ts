// The virtio-fs device in its sandboxed device process: pivoted into the shared directory, under
// policy/fs_device.policy, serving FUSE requests from a queue in shared guest memory (no VM: the test plays KVM's
// part with the eventfds). A syscall missing from the policy kills the process, which these requests would show.
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import {
  chmodSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { eventfdRead, eventfdWrite } from "../../../ffi/libc.ts";
import {
  ACCESS_IN,
  ATTR,
  COPY_FILE_RANGE_IN,
  FALLOCATE_IN,
  FORGET_IN,
  FSYNC_IN,
  LINK_IN,
  LSEEK_IN,
  MKNOD_IN,
  RELEASE_IN,
  RENAME2_IN,
  CREATE_IN,
  ENTRY_OUT_HEAD,
  ENTRY_OUT_SIZE,
  FUSE_ROOT_ID,
  GETXATTR_IN,
  IN_HEADER,
  INIT_IN,
  MKDIR_IN,
  OP,
  OPEN_IN,
  OPEN_OUT,
  OUT_HEADER,
  READ_IN,
  RENAME_IN,
  SETATTR_IN,
  SETXATTR_IN,
  WRITE_IN,
} from "../../../src/devices/virtio/fs/layout.ts";
import { ALL_RING_FEATURES, FakeDriverQueue, FakeInterrupt } from "../../../src/devices/virtio/testing.ts";
import type { DeviceProcess } from "../../../src/jail/device_process/spawn.ts";
import { concat, names, structBytes } from "../../unit/virtio/fs/fuse_harness.ts";
import { makeRig, readable, type Rig, start } from "./helpers.ts";

let rig: Rig;
let share: string;
let p: DeviceProcess | undefined;
let q: FakeDriverQueue;
let unique = 1n;
/** Why the device process died, if it did (a syscall the policy lacks: "killed by SIGSYS (seccomp: ...)"). */
const died: string[] = [];

const REQUEST_QUEUE = 1;

beforeEach(async () => {
  died.length = 0;
  rig = makeRig(2, 3, 4 << 20);
  share = join(rig.pivotRoot, "..", `${rig.pivotRoot.split("/").pop()}-share`);
  mkdirSync(share, { recursive: true });
  writeFileSync(join(share, "hello"), "hello from the host\n");
  p = await start(rig, "fs", {
    onDeviceDied: (m: string) => died.push(m),
    options: {
      path: share,
      tag: "t",
      cache: "auto",
      timeout: 5,
      writeback: false,
      rewriteSecurityXattrs: false,
      asciiCasefold: false,
      posixAcl: false,
    },
  });
  q = new FakeDriverQueue(64, ALL_RING_FEATURES, 4 << 20, rig.mem);
  q.queue.vector = 1;
  p.device.ackFeatures(ALL_RING_FEATURES);
  p.device.activate(rig.mem, new FakeInterrupt(), new Map([[REQUEST_QUEUE, q.queue]]));
  const init = concat(
    structBytes(INIT_IN, { major: 7, minor: 38, max_readahead: 131072, flags: 0xffffffff }),
    new Uint8Array(48),
  );
  expect((await call(OP.INIT, 0, init)).error).toBe(0);
});

afterEach(async () => {
  await p?.stop();
  p = undefined;
  rig.dispose();
  Bun.spawnSync(["rm", "-rf", share]);
});

interface Reply {
  error: number;
  body: Uint8Array;
  view: DataView;
}

/** One request through the device process: the chain on the queue, its eventfd written, the irqfd awaited. */
async function call(
  opcode: number,
  nodeid: number,
  args: Uint8Array,
  room = 4096,
  data?: Uint8Array,
): Promise<Reply> {
  const req = new Uint8Array(IN_HEADER.size + args.length);
  const v = new DataView(req.buffer);
  v.setUint32(IN_HEADER.at.len, req.length + (data?.length ?? 0), true);
  v.setUint32(IN_HEADER.at.opcode, opcode, true);
  v.setBigUint64(IN_HEADER.at.unique, unique++, true);
  v.setBigUint64(IN_HEADER.at.nodeid, BigInt(nodeid), true);
  req.set(args, IN_HEADER.size);
  const buffers = [
    { data: req },
    ...(data ? [{ data }] : []),
    { len: OUT_HEADER.size, writable: true },
    { len: room, writable: true },
  ];
  const before = q.usedIdx();
  q.setUsedEvent(before); // VIRTIO_RING_F_EVENT_IDX: ask for an interrupt at the next used entry
  const { addrs } = q.addChain(buffers);
  eventfdWrite(rig.queueEvents[REQUEST_QUEUE]!);
  const answered = await readable(rig.irqfds[1]!);
  expect(died).toEqual([]);
  expect(answered).toBe(true);
  eventfdRead(rig.irqfds[1]!);
  expect(q.usedIdx()).toBe(before + 1);
  const head = new DataView(rig.mem.read(addrs[addrs.length - 2]!, OUT_HEADER.size).buffer);
  const len = head.getUint32(0, true);
  const body = rig.mem.read(addrs[addrs.length - 1]!, Math.max(0, len - OUT_HEADER.size));
  return { error: head.getInt32(4, true), body, view: new DataView(body.buffer) };
}

const nodeOf = (r: Reply) => Number(r.view.getBigUint64(ENTRY_OUT_HEAD.at.nodeid, true));

test("the fs device process is pivoted into the shared directory, under seccomp", () => {
  expect(readdirSync(`/proc/${p!.pid}/root`)).toEqual(["hello"]);
  expect(readFileSync(`/proc/${p!.pid}/status`, "utf8")).toMatch(/^Seccomp:\s+2$/m);
  expect(readlinkSync(`/proc/${p!.pid}/ns/mnt`)).not.toBe(readlinkSync("/proc/self/ns/mnt"));
});

test("LOOKUP, OPEN and READ of a host file go through the sandboxed server", async () => {
  const l = await call(OP.LOOKUP, FUSE_ROOT_ID, names("hello"));
  expect(l.error).toBe(0);
  const node = nodeOf(l);
  const o = await call(OP.OPEN, node, structBytes(OPEN_IN, { flags: 0 }));
  const fh = Number(o.view.getBigUint64(OPEN_OUT.at.fh, true));
  const r = await call(OP.READ, node, structBytes(READ_IN, { fh, offset: 0, size: 100 }), 100);

  expect(new TextDecoder().decode(r.body)).toBe("hello from the host\n");
});

test("CREATE, WRITE, SETATTR, MKDIR, RENAME and xattrs work under the policy", async () => {
  const c = await call(
    OP.CREATE,
    FUSE_ROOT_ID,
    concat(structBytes(CREATE_IN, { flags: 2, mode: 0o644 }), names("new")),
  );
  expect(c.error).toBe(0);
  const node = nodeOf(c);
  const fh = Number(c.view.getBigUint64(ENTRY_OUT_SIZE + OPEN_OUT.at.fh, true));
  const data = new TextEncoder().encode("written by the guest");
  expect(
    (await call(OP.WRITE, node, structBytes(WRITE_IN, { fh, offset: 0, size: data.length }), 64, data)).error,
  ).toBe(0);
  const s = await call(
    OP.SETATTR,
    node,
    structBytes(SETATTR_IN, { valid: 1 | (1 << 4) | (1 << 5), mode: 0o600, atime: 5, mtime: 6 }),
  );
  expect(s.error).toBe(0);
  expect(
    (await call(OP.MKDIR, FUSE_ROOT_ID, concat(structBytes(MKDIR_IN, { mode: 0o755 }), names("d")))).error,
  ).toBe(0);
  const d = nodeOf(await call(OP.LOOKUP, FUSE_ROOT_ID, names("d")));
  expect(
    (
      await call(
        OP.RENAME,
        FUSE_ROOT_ID,
        concat(structBytes(RENAME_IN, { newdir: d }), names("new", "moved")),
      )
    ).error,
  ).toBe(0);
  const value = new TextEncoder().encode("v");
  const x = await call(
    OP.SETXATTR,
    node,
    concat(structBytes(SETXATTR_IN, { size: 1 }), names("user.k"), value),
  );
  expect([0, -95]).toContain(x.error);
  const g = await call(OP.GETXATTR, node, concat(structBytes(GETXATTR_IN, { size: 0 }), names("user.k")));
  expect([0, -61, -95]).toContain(g.error);

  expect(readFileSync(join(share, "d", "moved"), "utf8")).toBe("written by the guest");
  expect(s.view.getUint32(8 + 8 + ATTR.at.mode, true) & 0o777).toBe(0o600);
});

test("READDIRPLUS and STATFS work under the policy", async () => {
  const o = await call(OP.OPENDIR, FUSE_ROOT_ID, structBytes(OPEN_IN, {}));
  const fh = Number(o.view.getBigUint64(0, true));
  const r = await call(OP.READDIRPLUS, FUSE_ROOT_ID, structBytes(READ_IN, { fh, offset: 0, size: 4096 }));
  expect(r.error).toBe(0);
  expect(new TextDecoder().decode(r.body)).toContain("hello");
  expect((await call(OP.STATFS, FUSE_ROOT_ID, new Uint8Array(0))).error).toBe(0);
});

test("every other opcode runs under the policy without killing the device process", async () => {
  const root = FUSE_ROOT_ID;
  const mk = await call(OP.MKDIR, root, concat(structBytes(MKDIR_IN, { mode: 0o755 }), names("dir")));
  const dir = nodeOf(mk);
  const c = await call(OP.CREATE, dir, concat(structBytes(CREATE_IN, { flags: 2, mode: 0o644 }), names("f")));
  const f = nodeOf(c);
  const fh = Number(c.view.getBigUint64(ENTRY_OUT_SIZE + OPEN_OUT.at.fh, true));
  const c2 = await call(
    OP.CREATE,
    dir,
    concat(structBytes(CREATE_IN, { flags: 2, mode: 0o644 }), names("g")),
  );
  const g = nodeOf(c2);
  const gh = Number(c2.view.getBigUint64(ENTRY_OUT_SIZE + OPEN_OUT.at.fh, true));
  const results: [string, number][] = [];
  const run = async (name: string, r: Promise<Reply>) => results.push([name, (await r).error]);
  await run(
    "write",
    call(OP.WRITE, f, structBytes(WRITE_IN, { fh, offset: 0, size: 4 }), 64, Uint8Array.of(1, 2, 3, 4)),
  );
  await run("symlink", call(OP.SYMLINK, dir, names("l", "f")));
  await run("readlink", call(OP.READLINK, nodeOf(await call(OP.LOOKUP, dir, names("l"))), new Uint8Array(0)));
  await run("mknod", call(OP.MKNOD, dir, concat(structBytes(MKNOD_IN, { mode: 0o010644 }), names("fifo"))));
  await run("link", call(OP.LINK, dir, concat(structBytes(LINK_IN, { oldnodeid: f }), names("f2"))));
  await run("getattr", call(OP.GETATTR, f, new Uint8Array(16)));
  await run("truncate", call(OP.SETATTR, f, structBytes(SETATTR_IN, { valid: 1 << 3, size: 2 })));
  await run(
    "chown",
    call(
      OP.SETATTR,
      f,
      structBytes(SETATTR_IN, { valid: (1 << 1) | (1 << 2), uid: process.getuid!(), gid: process.getgid!() }),
    ),
  );
  await run("access", call(OP.ACCESS, f, structBytes(ACCESS_IN, { mask: 4 })));
  await run("fsync", call(OP.FSYNC, f, structBytes(FSYNC_IN, { fh })));
  await run("fdatasync", call(OP.FSYNC, f, structBytes(FSYNC_IN, { fh, fsync_flags: 1 })));
  await run("flush", call(OP.FLUSH, f, structBytes(FSYNC_IN, { fh })));
  await run("fallocate", call(OP.FALLOCATE, f, structBytes(FALLOCATE_IN, { fh, offset: 0, length: 4096 })));
  const seek = await call(OP.LSEEK, f, structBytes(LSEEK_IN, { fh, offset: 0, whence: 3 }));
  results.push(["lseek", seek.error === -6 ? 0 : seek.error]);
  await run(
    "copy_file_range",
    call(
      OP.COPY_FILE_RANGE,
      f,
      structBytes(COPY_FILE_RANGE_IN, {
        fh_in: fh,
        off_in: 0,
        nodeid_out: g,
        fh_out: gh,
        off_out: 0,
        len: 2,
      }),
    ),
  );
  const lx = await call(OP.LISTXATTR, f, structBytes(GETXATTR_IN, { size: 0 }));
  results.push(["listxattr", lx.error === -95 ? 0 : lx.error]);
  const rx = await call(OP.REMOVEXATTR, f, names("user.none"));
  results.push(["removexattr", rx.error === -61 || rx.error === -95 ? 0 : rx.error]);
  await run("release", call(OP.RELEASE, f, structBytes(RELEASE_IN, { fh })));
  const od = await call(OP.OPENDIR, dir, structBytes(OPEN_IN, {}));
  const dh = Number(od.view.getBigUint64(0, true));
  await run("readdir", call(OP.READDIR, dir, structBytes(READ_IN, { fh: dh, offset: 0, size: 4096 })));
  await run("fsyncdir", call(OP.FSYNCDIR, dir, structBytes(FSYNC_IN, { fh: dh })));
  await run("releasedir", call(OP.RELEASEDIR, dir, structBytes(RELEASE_IN, { fh: dh })));
  await run(
    "rename2",
    call(OP.RENAME2, dir, concat(structBytes(RENAME2_IN, { newdir: dir, flags: 2 }), names("f", "g"))),
  );
  await run("unlink", call(OP.UNLINK, dir, names("f2")));
  await call(OP.UNLINK, dir, names("f"));
  await call(OP.UNLINK, dir, names("g"));
  await call(OP.UNLINK, dir, names("l"));
  await call(OP.UNLINK, dir, names("fifo"));
  await run("rmdir", call(OP.RMDIR, root, names("dir")));
  await call(OP.FORGET, f, structBytes(FORGET_IN, { nlookup: 1 }), 0).catch(() => undefined);
  await run("destroy", call(OP.DESTROY, root, new Uint8Array(0)));

  expect(results.filter(([, e]) => e !== 0)).toEqual([]);
  expect(died).toEqual([]);
});

/** Replaces the device process with one started with `options`, on a fresh ring, and INITs it. */
async function restart(options: Record<string, unknown>): Promise<void> {
  await p?.stop();
  p = await start(rig, "fs", { onDeviceDied: (m: string) => died.push(m), options });
  rig.mem.slice(0, 0x20000).fill(0); // a fresh ring for the new device process
  q = new FakeDriverQueue(64, ALL_RING_FEATURES, 4 << 20, rig.mem);
  q.queue.vector = 1;
  p.device.ackFeatures(ALL_RING_FEATURES);
  p.device.activate(rig.mem, new FakeInterrupt(), new Map([[REQUEST_QUEUE, q.queue]]));
  const init = concat(
    structBytes(INIT_IN, { major: 7, minor: 38, max_readahead: 131072, flags: 0xffffffff }),
    new Uint8Array(48),
  );
  await call(OP.INIT, 0, init);
}

const shareOptions = {
  tag: "t",
  cache: "auto",
  timeout: 5,
  writeback: false,
  rewriteSecurityXattrs: false,
  asciiCasefold: false,
  posixAcl: false,
};

test("ascii_casefold reads the directory under the policy", async () => {
  await restart({
    ...shareOptions,
    path: share,
    writeback: true,
    rewriteSecurityXattrs: true,
    asciiCasefold: true,
    posixAcl: true,
  });

  expect((await call(OP.LOOKUP, FUSE_ROOT_ID, names("HELLO"))).error).toBe(0);
  expect(died).toEqual([]);
});

// --shared-dir uid/gid (crosvm's RunAsUser::Specified): the device process works on the host as that user. The ids
// are host ids here (no uidmap), which only a VMM run as root can take.
describe.skipIf(process.getuid?.() !== 0)("an fs device process with uid=4321 and gid=4322", () => {
  const RUN_AS = { uid: 4321, gid: 4322 };

  test("runs as them on every id, with no capabilities and no supplementary groups", async () => {
    await restart({ ...shareOptions, path: share, ...RUN_AS });

    const status = readFileSync(`/proc/${p!.pid}/status`, "utf8");
    expect(status).toMatch(/^Uid:\t4321\t4321\t4321\t4321$/m);
    expect(status).toMatch(/^Gid:\t4322\t4322\t4322\t4322$/m);
    expect(status).toMatch(/^CapEff:\t0000000000000000$/m);
    expect(status).toMatch(/^Groups:[ \t]*$/m);
    expect(status).toMatch(/^Seccomp:\s+2$/m);
  });

  test("a file the guest creates belongs to them on the host", async () => {
    chmodSync(share, 0o777);
    await restart({ ...shareOptions, path: share, ...RUN_AS });

    const c = await call(
      OP.CREATE,
      FUSE_ROOT_ID,
      concat(structBytes(CREATE_IN, { flags: 2, mode: 0o644 }), names("made")),
    );

    expect(c.error).toBe(0);
    const st = statSync(join(share, "made"));
    expect([st.uid, st.gid]).toEqual([4321, 4322]);
  });

  test("dies with its launcher: the id change keeps unshare --kill-child's parent-death signal", async () => {
    await restart({ ...shareOptions, path: share, ...RUN_AS });
    const pid = p!.pid;

    p!.runner.kill(); // SIGKILL to unshare(1), the device process's parent
    const alive = () =>
      existsSync(`/proc/${pid}`) && !/^State:\s+[ZX]/m.test(readFileSync(`/proc/${pid}/status`, "utf8"));
    const deadline = Date.now() + 5000;
    while (alive() && Date.now() < deadline) await Bun.sleep(10);

    expect(alive()).toBe(false);
  });

  test("a host file only root may read is refused (EACCES)", async () => {
    writeFileSync(join(share, "secret"), "root only\n", { mode: 0o600 });
    await restart({ ...shareOptions, path: share, ...RUN_AS });
    const node = nodeOf(await call(OP.LOOKUP, FUSE_ROOT_ID, names("secret")));

    const o = await call(OP.OPEN, node, structBytes(OPEN_IN, { flags: 0 }));

    expect(o.error).toBe(-13);
    expect(died).toEqual([]);
  });
});
