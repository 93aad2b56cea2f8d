// The FUSE server over a real host directory: each opcode's request decoded from and reply encoded to the uapi
// layouts (layout.ts, checked against fuse.h by layout.test.ts), file data through guest memory.
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import {
  chmodSync,
  existsSync,
  linkSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  readlinkSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import {
  ATTR,
  ATTR_OUT_ATTR_OFFSET,
  CREATE_IN,
  DIRENT,
  ENTRY_ATTR_OFFSET,
  ENTRY_OUT_HEAD,
  ENTRY_OUT_SIZE,
  FATTR_MODE,
  FATTR_SIZE,
  FORGET_IN,
  FSYNC_IN,
  FUSE_ROOT_ID,
  GETXATTR_IN,
  INIT_OUT,
  KSTATFS,
  LINK_IN,
  MKDIR_IN,
  MKNOD_IN,
  OP,
  OPEN_IN,
  OPEN_OUT,
  OUT_HEADER,
  READ_IN,
  RELEASE_IN,
  RENAME2_IN,
  RENAME_IN,
  SETATTR_IN,
  SETXATTR_IN,
  WRITE_IN,
  WRITE_OUT,
  FALLOCATE_IN,
  LSEEK_IN,
  COPY_FILE_RANGE_IN,
  BATCH_FORGET_IN,
  FORGET_ONE,
  ACCESS_IN,
} from "../../../../src/devices/virtio/fs/layout.ts";
import { closeSync, openSync } from "node:fs";
import { cstr, fgetxattr } from "../../../../ffi/fs_calls.ts";
import { IdMap } from "../../../../src/devices/virtio/fs/id_map.ts";
import { concat, FuseHarness, names, type Reply, structBytes } from "./fuse_harness.ts";
import { withUmask022 } from "../umask.ts";

const ENOENT = 2;
const EIO = 5;
const EACCES = 13;
const EEXIST = 17;
const ENOSYS = 38;
const ENOTEMPTY = 39;

let h: FuseHarness;
beforeEach(() => {
  h = new FuseHarness();
  h.init();
});
afterEach(() => h.cleanup());

const nodeOf = (r: { view: DataView }) => Number(r.view.getBigUint64(ENTRY_OUT_HEAD.at.nodeid, true));
const lookup = (parent: number, name: string) => h.call(OP.LOOKUP, parent, names(name));
const fhOf = (r: { view: DataView }, at = 0) => Number(r.view.getBigUint64(at + OPEN_OUT.at.fh, true));

function create(name: string, mode = 0o644, flags = 2 /* O_RDWR */) {
  const r = h.call(OP.CREATE, FUSE_ROOT_ID, concat(structBytes(CREATE_IN, { flags, mode }), names(name)));
  if (r.error !== 0) return { r, node: 0, fh: 0 };
  return { r, node: nodeOf(r), fh: fhOf(r, ENTRY_OUT_SIZE) };
}

function write(node: number, fh: number, offset: number, data: Uint8Array) {
  return h.call(OP.WRITE, node, structBytes(WRITE_IN, { fh, offset, size: data.length }), { data });
}

function read(node: number, fh: number, offset: number, size: number) {
  return h.call(OP.READ, node, structBytes(READ_IN, { fh, offset, size }), {
    replyRoom: OUT_HEADER.size + size,
  });
}

describe("FUSE server", () => {
  test("INIT answers 7.31 with max_write and the flags both sides support", () => {
    const fresh = new FuseHarness();
    const r = fresh.init();
    expect(r.error).toBe(0);
    expect(r.view.getUint32(INIT_OUT.at.major, true)).toBe(7);
    expect(r.view.getUint32(INIT_OUT.at.minor, true)).toBe(31);
    expect(r.view.getUint32(INIT_OUT.at.max_write, true)).toBe(1 << 20);
    expect(r.view.getUint32(INIT_OUT.at.flags, true) & (1 << 13)).toBe(1 << 13); // FUSE_DO_READDIRPLUS
    fresh.cleanup();
  });

  test("a request before INIT is answered EIO", () => {
    const fresh = new FuseHarness();
    expect(fresh.call(OP.GETATTR, FUSE_ROOT_ID, new Uint8Array(16)).error).toBe(-EIO);
    fresh.cleanup();
  });

  test("the reply header carries the request's unique and the reply length", () => {
    const r = h.call(OP.GETATTR, FUSE_ROOT_ID, new Uint8Array(16));
    expect(r.error).toBe(0);
    expect(r.len).toBe(OUT_HEADER.size + 104);
    expect(r.written).toBe(r.len);
  });

  test("an unknown opcode gets ENOSYS", () => {
    expect(h.call(9999, FUSE_ROOT_ID, new Uint8Array(0)).error).toBe(-ENOSYS);
  });

  test("LOOKUP of a host file returns its node and attributes", () => {
    writeFileSync(join(h.root, "a"), "12345");
    const r = lookup(FUSE_ROOT_ID, "a");
    expect(r.error).toBe(0);
    expect(nodeOf(r)).toBeGreaterThan(1);
    expect(r.view.getBigUint64(ENTRY_ATTR_OFFSET + ATTR.at.size, true)).toBe(5n);
    expect(r.view.getBigUint64(ENTRY_ATTR_OFFSET + ATTR.at.ino, true)).toBe(
      BigInt(statSync(join(h.root, "a")).ino),
    );
  });

  test("LOOKUP of a missing name is ENOENT", () => {
    expect(lookup(FUSE_ROOT_ID, "nope").error).toBe(-ENOENT);
  });

  test("two names of one file are one node", () => {
    writeFileSync(join(h.root, "a"), "x");
    linkSync(join(h.root, "a"), join(h.root, "b"));
    expect(nodeOf(lookup(FUSE_ROOT_ID, "a"))).toBe(nodeOf(lookup(FUSE_ROOT_ID, "b")));
  });

  test("FORGET of the last lookup drops the node; FORGET of an unknown node is harmless", () => {
    writeFileSync(join(h.root, "a"), "x");
    const node = nodeOf(lookup(FUSE_ROOT_ID, "a"));
    const before = h.ctx.inodes.size;
    expect(h.call(OP.FORGET, 424242, structBytes(FORGET_IN, { nlookup: 1 })).written).toBe(0);
    expect(h.call(OP.FORGET, node, structBytes(FORGET_IN, { nlookup: 1 })).written).toBe(0);
    expect(h.ctx.inodes.size).toBe(before - 1);
    expect(h.call(OP.GETATTR, node, new Uint8Array(16)).error).toBe(-ENOENT);
  });

  test("FORGET with an nlookup of 2^64 - 1 drops the node", () => {
    writeFileSync(join(h.root, "a"), "x");
    const node = nodeOf(lookup(FUSE_ROOT_ID, "a"));
    const before = h.ctx.inodes.size;

    h.call(OP.FORGET, node, structBytes(FORGET_IN, { nlookup: 2n ** 64n - 1n }));

    expect(h.ctx.inodes.size).toBe(before - 1);
  });

  test("BATCH_FORGET with an nlookup of 2^53 drops the node", () => {
    writeFileSync(join(h.root, "a"), "x");
    const node = nodeOf(lookup(FUSE_ROOT_ID, "a"));
    const before = h.ctx.inodes.size;
    const args = concat(
      structBytes(BATCH_FORGET_IN, { count: 1 }),
      structBytes(FORGET_ONE, { nodeid: node, nlookup: 2n ** 53n }),
    );

    h.call(OP.BATCH_FORGET, 0, args);

    expect(h.ctx.inodes.size).toBe(before - 1);
  });

  test("BATCH_FORGET drops every listed node and skips unknown ones", () => {
    writeFileSync(join(h.root, "a"), "x");
    writeFileSync(join(h.root, "b"), "x");
    const a = nodeOf(lookup(FUSE_ROOT_ID, "a"));
    const b = nodeOf(lookup(FUSE_ROOT_ID, "b"));
    const args = concat(
      structBytes(BATCH_FORGET_IN, { count: 3 }),
      structBytes(FORGET_ONE, { nodeid: a, nlookup: 1 }),
      structBytes(FORGET_ONE, { nodeid: 999, nlookup: 1 }),
      structBytes(FORGET_ONE, { nodeid: b, nlookup: 1 }),
    );
    h.call(OP.BATCH_FORGET, 0, args);
    expect(h.ctx.inodes.size).toBe(1);
  });

  test("CREATE, WRITE and READ move file data through guest memory", () => {
    const { r, node, fh } = create("f");
    expect(r.error).toBe(0);
    const data = new Uint8Array(300_000).map((_, i) => (i * 7) & 0xff);
    const w = write(node, fh, 0, data);
    expect(w.error).toBe(0);
    expect(w.view.getUint32(WRITE_OUT.at.size, true)).toBe(data.length);
    expect(readFileSync(join(h.root, "f")).equals(Buffer.from(data))).toBe(true);
    const back = read(node, fh, 1000, 200_000);
    expect(back.error).toBe(0);
    expect(back.len).toBe(OUT_HEADER.size + 200_000);
    expect(Buffer.from(back.body).equals(Buffer.from(data.subarray(1000, 201_000)))).toBe(true);
  });

  test("READ past the end returns the bytes that exist", () => {
    writeFileSync(join(h.root, "f"), "hello");
    const node = nodeOf(lookup(FUSE_ROOT_ID, "f"));
    const o = h.call(OP.OPEN, node, structBytes(OPEN_IN, { flags: 0 }));
    const r = read(node, fhOf(o), 2, 100);
    expect(new TextDecoder().decode(r.body)).toBe("llo");
  });

  test("a handle used with another node's id is EBADF", () => {
    const { fh } = create("f");
    writeFileSync(join(h.root, "g"), "x");
    const other = nodeOf(lookup(FUSE_ROOT_ID, "g"));
    expect(read(other, fh, 0, 10).error).toBe(-9);
  });

  test("CREATE gives the file exactly its mode, setuid included, whatever the server's umask (pjdfstest chmod/12)", () => {
    withUmask022(() => create("suid", 0o4777));

    expect(statSync(join(h.root, "suid")).mode & 0o7777).toBe(0o4777);
  });

  test("MKDIR gives the directory exactly its mode, sticky bit included, whatever the server's umask", () => {
    withUmask022(() =>
      h.call(OP.MKDIR, FUSE_ROOT_ID, concat(structBytes(MKDIR_IN, { mode: 0o1777 }), names("d"))),
    );

    expect(statSync(join(h.root, "d")).mode & 0o7777).toBe(0o1777);
  });

  test("CREATE by another guest uid gives the file that owner and still exactly its setuid mode", () => {
    const args = concat(structBytes(CREATE_IN, { flags: 2, mode: 0o4755 }), names("theirs"));

    let r: Reply | undefined;
    withUmask022(() => (r = h.call(OP.CREATE, FUSE_ROOT_ID, args, { uid: 1234, gid: 1234 })));

    const st = statSync(join(h.root, "theirs"));
    expect([r!.error, st.uid, st.gid, st.mode & 0o7777]).toEqual([0, 1234, 1234, 0o4755]);
  });

  test("CREATE's reply shows the owner and mode the file ends with", () => {
    const args = concat(structBytes(CREATE_IN, { flags: 2, mode: 0o4755 }), names("theirs"));

    let r: Reply | undefined;
    withUmask022(() => (r = h.call(OP.CREATE, FUSE_ROOT_ID, args, { uid: 1234, gid: 1234 })));

    const a = ENTRY_ATTR_OFFSET;
    expect([
      r!.view.getUint32(a + ATTR.at.uid, true),
      r!.view.getUint32(a + ATTR.at.mode, true) & 0o7777,
    ]).toEqual([1234, 0o4755]);
  });

  test("MKDIR below a setgid directory gives exactly the asked mode (the inherited setgid bit is taken off)", () => {
    mkdirSync(join(h.root, "sg"));
    chmodSync(join(h.root, "sg"), 0o2775);
    const sg = nodeOf(lookup(FUSE_ROOT_ID, "sg"));

    withUmask022(() => h.call(OP.MKDIR, sg, concat(structBytes(MKDIR_IN, { mode: 0o755 }), names("d"))));

    expect(statSync(join(h.root, "sg", "d")).mode & 0o7777).toBe(0o755);
  });

  test("CREATE of an existing name with O_EXCL is EEXIST", () => {
    writeFileSync(join(h.root, "f"), "x");
    expect(create("f", 0o644, 2 | 0o200).r.error).toBe(-EEXIST);
  });

  test("SETATTR changes mode and size", () => {
    writeFileSync(join(h.root, "f"), "0123456789");
    const node = nodeOf(lookup(FUSE_ROOT_ID, "f"));
    const r = h.call(
      OP.SETATTR,
      node,
      structBytes(SETATTR_IN, { valid: FATTR_MODE | FATTR_SIZE, mode: 0o600, size: 4 }),
    );
    expect(r.error).toBe(0);
    expect(statSync(join(h.root, "f")).mode & 0o777).toBe(0o600);
    expect(statSync(join(h.root, "f")).size).toBe(4);
    expect(r.view.getBigUint64(ATTR_OUT_ATTR_OFFSET + ATTR.at.size, true)).toBe(4n);
  });

  test("MKDIR, RMDIR of a non-empty directory (ENOTEMPTY), UNLINK", () => {
    const d = h.call(OP.MKDIR, FUSE_ROOT_ID, concat(structBytes(MKDIR_IN, { mode: 0o755 }), names("d")));
    expect(d.error).toBe(0);
    expect(statSync(join(h.root, "d")).isDirectory()).toBe(true);
    writeFileSync(join(h.root, "d", "x"), "x");
    expect(h.call(OP.RMDIR, FUSE_ROOT_ID, names("d")).error).toBe(-ENOTEMPTY);
    expect(h.call(OP.UNLINK, nodeOf(d), names("x")).error).toBe(0);
    expect(h.call(OP.RMDIR, FUSE_ROOT_ID, names("d")).error).toBe(0);
    expect(existsSync(join(h.root, "d"))).toBe(false);
  });

  test("MKNOD makes a FIFO", () => {
    const r = h.call(OP.MKNOD, FUSE_ROOT_ID, concat(structBytes(MKNOD_IN, { mode: 0o010644 }), names("p")));
    expect(r.error).toBe(0);
    expect(lstatSync(join(h.root, "p")).isFIFO()).toBe(true);
  });

  test("SYMLINK stores the target as text and READLINK returns it", () => {
    const r = h.call(OP.SYMLINK, FUSE_ROOT_ID, names("l", "../../etc/passwd"));
    expect(r.error).toBe(0);
    expect(readlinkSync(join(h.root, "l"))).toBe("../../etc/passwd");
    const back = h.call(OP.READLINK, nodeOf(r), new Uint8Array(0));
    expect(new TextDecoder().decode(back.body)).toBe("../../etc/passwd");
  });

  test("LINK makes a second name of the node", () => {
    writeFileSync(join(h.root, "a"), "x");
    const a = nodeOf(lookup(FUSE_ROOT_ID, "a"));
    const r = h.call(OP.LINK, FUSE_ROOT_ID, concat(structBytes(LINK_IN, { oldnodeid: a }), names("b")));
    expect(r.error).toBe(0);
    expect(nodeOf(r)).toBe(a);
    expect(statSync(join(h.root, "b")).nlink).toBe(2);
  });

  test("RENAME replaces an existing target; RENAME2 with NOREPLACE refuses it", () => {
    writeFileSync(join(h.root, "a"), "new");
    writeFileSync(join(h.root, "b"), "old");
    expect(
      h.call(
        OP.RENAME,
        FUSE_ROOT_ID,
        concat(structBytes(RENAME_IN, { newdir: FUSE_ROOT_ID }), names("a", "b")),
      ).error,
    ).toBe(0);
    expect(readFileSync(join(h.root, "b"), "utf8")).toBe("new");
    writeFileSync(join(h.root, "c"), "c");
    const r2 = h.call(
      OP.RENAME2,
      FUSE_ROOT_ID,
      concat(structBytes(RENAME2_IN, { newdir: FUSE_ROOT_ID, flags: 1 }), names("c", "b")),
    );
    expect(r2.error).toBe(-EEXIST);
  });

  test("READDIR lists names with their types; a second call from the last offset goes on", () => {
    for (const n of ["x", "y", "z"]) writeFileSync(join(h.root, n), n);
    const o = h.call(OP.OPENDIR, FUSE_ROOT_ID, structBytes(OPEN_IN, {}));
    const fh = fhOf(o);
    const seen: string[] = [];
    let offset = 0n;
    for (let round = 0; round < 10; round++) {
      // Room for about two entries a call.
      const r = h.call(OP.READDIR, FUSE_ROOT_ID, structBytes(READ_IN, { fh, offset, size: 64 }), {
        replyRoom: OUT_HEADER.size + 64,
      });
      if (r.body.length === 0) break;
      for (let at = 0; at < r.body.length;) {
        const len = r.view.getUint32(at + DIRENT.at.namelen, true);
        seen.push(new TextDecoder().decode(r.body.subarray(at + DIRENT.size, at + DIRENT.size + len)));
        offset = r.view.getBigInt64(at + DIRENT.at.off, true);
        at += (DIRENT.size + len + 7) & ~7;
      }
    }
    expect(seen.sort()).toEqual([".", "..", "x", "y", "z"]);
    expect(h.call(OP.RELEASEDIR, FUSE_ROOT_ID, structBytes(RELEASE_IN, { fh })).error).toBe(0);
  });

  test("READDIRPLUS gives each name an entry with its node", () => {
    writeFileSync(join(h.root, "x"), "x");
    const fh = fhOf(h.call(OP.OPENDIR, FUSE_ROOT_ID, structBytes(OPEN_IN, {})));
    const r = h.call(OP.READDIRPLUS, FUSE_ROOT_ID, structBytes(READ_IN, { fh, offset: 0, size: 4096 }), {
      replyRoom: OUT_HEADER.size + 4096,
    });
    let found = 0;
    for (let at = 0; at < r.body.length;) {
      const d = at + ENTRY_OUT_SIZE;
      const len = r.view.getUint32(d + DIRENT.at.namelen, true);
      const name = new TextDecoder().decode(r.body.subarray(d + DIRENT.size, d + DIRENT.size + len));
      if (name === "x") found = Number(r.view.getBigUint64(at + ENTRY_OUT_HEAD.at.nodeid, true));
      at = d + ((DIRENT.size + len + 7) & ~7);
    }
    expect(found).toBe(nodeOf(lookup(FUSE_ROOT_ID, "x")));
  });

  test("SETXATTR, GETXATTR (size probe and value), LISTXATTR, REMOVEXATTR", () => {
    writeFileSync(join(h.root, "f"), "x");
    const node = nodeOf(lookup(FUSE_ROOT_ID, "f"));
    const value = new TextEncoder().encode("v1");
    const set = h.call(
      OP.SETXATTR,
      node,
      concat(structBytes(SETXATTR_IN, { size: value.length }), names("user.k"), value),
    );
    if (set.error === -95) return; // the test directory's file system has no user xattrs
    expect(set.error).toBe(0);
    const probe = h.call(OP.GETXATTR, node, concat(structBytes(GETXATTR_IN, { size: 0 }), names("user.k")));
    expect(probe.view.getUint32(0, true)).toBe(2);
    const got = h.call(OP.GETXATTR, node, concat(structBytes(GETXATTR_IN, { size: 64 }), names("user.k")));
    expect(new TextDecoder().decode(got.body)).toBe("v1");
    const list = h.call(OP.LISTXATTR, node, structBytes(GETXATTR_IN, { size: 256 }));
    expect(new TextDecoder().decode(list.body)).toContain("user.k\0");
    expect(h.call(OP.REMOVEXATTR, node, names("user.k")).error).toBe(0);
    expect(
      h.call(OP.GETXATTR, node, concat(structBytes(GETXATTR_IN, { size: 64 }), names("user.k"))).error,
    ).toBe(-61);
  });

  test("STATFS reports the host file system's block size", () => {
    const r = h.call(OP.STATFS, FUSE_ROOT_ID, new Uint8Array(0));
    expect(r.error).toBe(0);
    expect(r.view.getUint32(KSTATFS.at.bsize, true)).toBeGreaterThan(0);
  });

  test("FSYNC, FLUSH, FALLOCATE, LSEEK and RELEASE on an open file", () => {
    const { node, fh } = create("f");
    expect(h.call(OP.FALLOCATE, node, structBytes(FALLOCATE_IN, { fh, offset: 0, length: 8192 })).error).toBe(
      0,
    );
    expect(statSync(join(h.root, "f")).size).toBe(8192);
    expect(h.call(OP.FSYNC, node, structBytes(FSYNC_IN, { fh })).error).toBe(0);
    expect(
      h.call(
        OP.FLUSH,
        node,
        new Uint8Array(24).fill(0).map((_, i) => (i === 0 ? fh : 0)),
      ).error,
    ).toBe(0);
    const seek = h.call(OP.LSEEK, node, structBytes(LSEEK_IN, { fh, offset: 0, whence: 3 /* SEEK_DATA */ }));
    expect([0, -6 /* ENXIO on a file system without data extents */]).toContain(seek.error);
    expect(h.call(OP.RELEASE, node, structBytes(RELEASE_IN, { fh })).error).toBe(0);
    expect(h.call(OP.RELEASE, node, structBytes(RELEASE_IN, { fh })).error).toBe(-9);
  });

  test("COPY_FILE_RANGE copies between two open files", () => {
    const a = create("a");
    write(a.node, a.fh, 0, new TextEncoder().encode("abcdef"));
    const b = create("b");
    const r = h.call(
      OP.COPY_FILE_RANGE,
      a.node,
      structBytes(COPY_FILE_RANGE_IN, {
        fh_in: a.fh,
        off_in: 1,
        nodeid_out: b.node,
        fh_out: b.fh,
        off_out: 0,
        len: 4,
      }),
    );
    expect(r.error).toBe(0);
    expect(r.view.getUint32(0, true)).toBe(4);
    expect(readFileSync(join(h.root, "b"), "utf8")).toBe("bcde");
  });

  test("ACCESS refuses write to a read-only file for a non-owner", () => {
    writeFileSync(join(h.root, "f"), "x", { mode: 0o644 });
    const node = nodeOf(lookup(FUSE_ROOT_ID, "f"));
    expect(h.call(OP.ACCESS, node, structBytes(ACCESS_IN, { mask: 2 }), { uid: 4321, gid: 4321 }).error).toBe(
      -EACCES,
    );
    expect(h.call(OP.ACCESS, node, structBytes(ACCESS_IN, { mask: 4 }), { uid: 4321, gid: 4321 }).error).toBe(
      0,
    );
  });
});

describe("escape attempts", () => {
  test('LOOKUP of ".." at the root is EACCES', () => {
    expect(lookup(FUSE_ROOT_ID, "..").error).toBe(-EACCES);
  });

  test("a name with a slash is EACCES and nothing outside is touched", () => {
    writeFileSync(join(h.outside, "secret"), "s");
    expect(lookup(FUSE_ROOT_ID, "../outside/secret").error).toBe(-EACCES);
    expect(h.call(OP.UNLINK, FUSE_ROOT_ID, names("../outside/secret")).error).toBe(-EACCES);
    expect(existsSync(join(h.outside, "secret"))).toBe(true);
  });

  test("an absolute name is EACCES", () => {
    expect(create(`${h.outside}/new`).r.error).toBe(-EACCES);
    expect(existsSync(join(h.outside, "new"))).toBe(false);
  });

  test("a symlink to outside is a node of its own; looking up through it fails", () => {
    Bun.spawnSync(["ln", "-s", h.outside, join(h.root, "out")]);
    writeFileSync(join(h.outside, "secret"), "s");
    const link = lookup(FUSE_ROOT_ID, "out");
    expect(link.error).toBe(0);
    expect(link.view.getUint32(ENTRY_ATTR_OFFSET + ATTR.at.mode, true) & 0o170000).toBe(0o120000);
    expect([-20 /* ENOTDIR */, -40 /* ELOOP */]).toContain(lookup(nodeOf(link), "secret").error);
    expect(h.call(OP.OPENDIR, nodeOf(link), structBytes(OPEN_IN, {})).error).toBe(-20);
  });

  test("a symlink swapped in between LOOKUP and OPEN opens the looked-up file, never the link's target", () => {
    writeFileSync(join(h.root, "f"), "inside");
    writeFileSync(join(h.outside, "secret"), "outside");
    const node = nodeOf(lookup(FUSE_ROOT_ID, "f"));
    Bun.spawnSync(["mv", join(h.root, "f"), join(h.root, "f.old")]);
    Bun.spawnSync(["ln", "-s", join(h.outside, "secret"), join(h.root, "f")]);
    const o = h.call(OP.OPEN, node, structBytes(OPEN_IN, { flags: 0 }));
    expect(o.error).toBe(0);
    expect(new TextDecoder().decode(read(node, fhOf(o), 0, 100).body)).toBe("inside");
    // A new LOOKUP of the name finds the symlink itself, and OPEN of a symlink node is refused.
    const l = nodeOf(lookup(FUSE_ROOT_ID, "f"));
    expect(h.call(OP.OPEN, l, structBytes(OPEN_IN, { flags: 0 })).error).toBe(-22);
  });

  test("CREATE through a symlink planted at the name fails with ELOOP/EEXIST and creates nothing outside", () => {
    Bun.spawnSync(["ln", "-s", join(h.outside, "planted"), join(h.root, "p")]);
    const r = create("p", 0o644, 2 | 0o100);
    expect([-40, -17]).toContain(r.r.error);
    expect(existsSync(join(h.outside, "planted"))).toBe(false);
  });

  test("a directory renamed out of the share: .. from it and its old name are refused", () => {
    mkdirSync(join(h.root, "d"));
    const d = nodeOf(lookup(FUSE_ROOT_ID, "d"));
    Bun.spawnSync(["mv", join(h.root, "d"), join(h.outside, "d")]);
    expect([-EACCES, -ENOENT]).toContain(lookup(d, "..").error);
    expect(lookup(FUSE_ROOT_ID, "d").error).toBe(-ENOENT);
  });

  test("a directory renamed out of the share refuses work in it (ENOENT) and nothing is made outside", () => {
    mkdirSync(join(h.root, "d"));
    writeFileSync(join(h.root, "d", "kept"), "k");
    const d = nodeOf(lookup(FUSE_ROOT_ID, "d"));
    Bun.spawnSync(["mv", join(h.root, "d"), join(h.outside, "d")]);
    const r = h.call(OP.CREATE, d, concat(structBytes(CREATE_IN, { flags: 2, mode: 0o644 }), names("new")));
    expect(r.error).toBe(-ENOENT);
    expect(lookup(d, "kept").error).toBe(-ENOENT);
    expect(h.call(OP.UNLINK, d, names("kept")).error).toBe(-ENOENT);
    expect(existsSync(join(h.outside, "d", "new"))).toBe(false);
    expect(existsSync(join(h.outside, "d", "kept"))).toBe(true);
  });

  test("a directory moved deeper inside the share stays usable", () => {
    mkdirSync(join(h.root, "a", "b"), { recursive: true });
    const b = nodeOf(lookup(nodeOf(lookup(FUSE_ROOT_ID, "a")), "b"));
    mkdirSync(join(h.root, "z"));
    Bun.spawnSync(["mv", join(h.root, "a"), join(h.root, "z", "a")]);
    const r = h.call(OP.MKDIR, b, concat(structBytes(MKDIR_IN, { mode: 0o755 }), names("c")));
    expect(r.error).toBe(0);
    expect(existsSync(join(h.root, "z", "a", "b", "c"))).toBe(true);
  });
});

describe("id maps in the server", () => {
  test("attributes show host owners as guest ids through uidmap", () => {
    const uid = process.getuid?.() ?? 0;
    const mapped = new FuseHarness({ uidMap: new IdMap([{ inner: 7, outer: uid, count: 1 }]) });
    mapped.init();
    writeFileSync(join(mapped.root, "f"), "x");
    const r = mapped.call(OP.LOOKUP, FUSE_ROOT_ID, names("f"));
    expect(r.view.getUint32(ENTRY_ATTR_OFFSET + ATTR.at.uid, true)).toBe(7);
    mapped.cleanup();
  });
});

describe("shared-dir keys in the server", () => {
  test("ascii_casefold finds a name that differs in case", () => {
    const folded = new FuseHarness({ asciiCasefold: true });
    folded.init();
    writeFileSync(join(folded.root, "ReadMe.TXT"), "x");
    expect(folded.call(OP.LOOKUP, FUSE_ROOT_ID, names("readme.txt")).error).toBe(0);
    folded.cleanup();
  });

  test("without ascii_casefold a name that differs in case is ENOENT", () => {
    writeFileSync(join(h.root, "ReadMe.TXT"), "x");
    expect(lookup(FUSE_ROOT_ID, "readme.txt").error).toBe(-ENOENT);
  });

  test("rewrite-security-xattrs stores security.* as user.virtiofs.security.* and lists it back", () => {
    const rw = new FuseHarness({ rewriteSecurityXattrs: true });
    rw.init();
    writeFileSync(join(rw.root, "f"), "x");
    const node = nodeOf(rw.call(OP.LOOKUP, FUSE_ROOT_ID, names("f")));
    const value = new TextEncoder().encode("label");
    const set = rw.call(
      OP.SETXATTR,
      node,
      concat(structBytes(SETXATTR_IN, { size: value.length }), names("security.selinux"), value),
    );
    if (set.error === -95) return rw.cleanup(); // no user xattrs on the test directory's file system
    expect(set.error).toBe(0);
    const fd = openSync(join(rw.root, "f"), "r");
    const onHost = new Uint8Array(16);
    const n = fgetxattr(fd, cstr("user.virtiofs.security.selinux"), onHost);
    closeSync(fd);
    expect(new TextDecoder().decode(onHost.subarray(0, n))).toBe("label");
    const list = rw.call(OP.LISTXATTR, node, structBytes(GETXATTR_IN, { size: 256 }));
    expect(new TextDecoder().decode(list.body)).toBe("security.selinux\0");
    rw.cleanup();
  });

  test("cache=never answers with zero timeouts and direct I/O opens", () => {
    const never = new FuseHarness({ cache: "never" });
    never.init();
    writeFileSync(join(never.root, "f"), "x");
    const r = never.call(OP.LOOKUP, FUSE_ROOT_ID, names("f"));
    expect(r.view.getBigUint64(ENTRY_OUT_HEAD.at.entry_valid, true)).toBe(0n);
    const o = never.call(OP.OPEN, nodeOf(r), structBytes(OPEN_IN, { flags: 0 }));
    expect(o.view.getUint32(OPEN_OUT.at.open_flags, true) & 1).toBe(1); // FOPEN_DIRECT_IO
    never.cleanup();
  });
});

describe("bounds on guest input", () => {
  test("a request shorter than fuse_in_header gets no reply and a warning", () => {
    const r = h.call(OP.GETATTR, FUSE_ROOT_ID, new Uint8Array(16), { truncate: 20 });
    expect(r.written).toBe(0);
    expect(h.warnings[0]).toContain("has no fuse_in_header");
  });

  test("a header whose len exceeds the chain's readable bytes is EINVAL", () => {
    expect(h.call(OP.GETATTR, FUSE_ROOT_ID, new Uint8Array(16), { len: 1 << 20 }).error).toBe(-22);
  });

  test("a WRITE claiming more data than the chain holds is EINVAL and writes nothing", () => {
    const { node, fh } = create("f");
    const r = h.call(OP.WRITE, node, structBytes(WRITE_IN, { fh, offset: 0, size: 4096 }), {
      data: new Uint8Array(10),
    });
    expect(r.error).toBe(-22);
    expect(statSync(join(h.root, "f")).size).toBe(0);
  });

  test("a WRITE above max_write is EINVAL", () => {
    const { node, fh } = create("f");
    expect(h.call(OP.WRITE, node, structBytes(WRITE_IN, { fh, offset: 0, size: (1 << 20) + 1 })).error).toBe(
      -22,
    );
  });

  test("a name without its NUL is EINVAL; a name over NAME_MAX is ENAMETOOLONG", () => {
    expect(h.call(OP.LOOKUP, FUSE_ROOT_ID, new TextEncoder().encode("abc")).error).toBe(-22);
    expect(lookup(FUSE_ROOT_ID, "x".repeat(256)).error).toBe(-36);
  });

  test("a reply buffer too small for the reply is EINVAL in the header", () => {
    writeFileSync(join(h.root, "f"), "x");
    const r = h.call(OP.LOOKUP, FUSE_ROOT_ID, names("f"), { replyRoom: OUT_HEADER.size + 8 });
    expect(r.error).toBe(-22);
  });
});

describe("SETATTR times", () => {
  test("atime and mtime are set on a file, and on a symlink itself", () => {
    writeFileSync(join(h.root, "f"), "x");
    Bun.spawnSync(["ln", "-s", "f", join(h.root, "l")]);
    for (const name of ["f", "l"]) {
      const node = nodeOf(lookup(FUSE_ROOT_ID, name));
      const r = h.call(
        OP.SETATTR,
        node,
        structBytes(SETATTR_IN, { valid: (1 << 4) | (1 << 5), atime: 1000, mtime: 2000 }),
      );
      expect(r.error).toBe(0);
      const st = lstatSync(join(h.root, name));
      expect([st.atimeMs, st.mtimeMs]).toEqual([1_000_000, 2_000_000]);
    }
  });
});

describe("open directory handles", () => {
  test("a directory moved out of the share after OPENDIR is not listed", () => {
    mkdirSync(join(h.root, "d"));
    writeFileSync(join(h.root, "d", "secret-name"), "x");
    const d = nodeOf(lookup(FUSE_ROOT_ID, "d"));
    const fh = fhOf(h.call(OP.OPENDIR, d, structBytes(OPEN_IN, {})));
    Bun.spawnSync(["mv", join(h.root, "d"), join(h.outside, "d")]);
    const r = h.call(OP.READDIR, d, structBytes(READ_IN, { fh, offset: 0, size: 4096 }));
    expect(r.error).toBe(-ENOENT);
  });
});

describe("FSYNCDIR and DESTROY", () => {
  test("FSYNCDIR on an open directory handle succeeds", () => {
    const fh = fhOf(h.call(OP.OPENDIR, FUSE_ROOT_ID, structBytes(OPEN_IN, {})));
    expect(h.call(OP.FSYNCDIR, FUSE_ROOT_ID, structBytes(FSYNC_IN, { fh })).error).toBe(0);
  });

  test("DESTROY drops every node and handle but the root, and the next request needs INIT", () => {
    writeFileSync(join(h.root, "f"), "x");
    const node = nodeOf(lookup(FUSE_ROOT_ID, "f"));
    h.call(OP.OPEN, node, structBytes(OPEN_IN, { flags: 0 }));
    expect(h.call(OP.DESTROY, FUSE_ROOT_ID, new Uint8Array(0)).error).toBe(0);
    expect([h.ctx.inodes.size, h.ctx.handles.size]).toEqual([1, 0]);
    expect(lookup(FUSE_ROOT_ID, "f").error).toBe(-EIO);
  });
});
