// The 9P2000.L server over a real host directory: each message decoded from and its reply encoded to the layouts
// of Linux's net/9p/client.c, file data through guest memory, and hostile messages answered with Rlerror.
import { afterEach, describe, expect, test } from "bun:test";
import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  readlinkSync,
  renameSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { IdMap } from "../../../../src/devices/virtio/fs/id_map.ts";
import { MAX_MSIZE } from "../../../../src/devices/virtio/p9/server.ts";
import {
  DOTL_AT_REMOVEDIR,
  MSG,
  QTDIR,
  QTFILE,
  QTSYMLINK,
} from "../../../../src/devices/virtio/p9/protocol.ts";
import { Msg, P9Harness, qidAt } from "./p9_harness.ts";
import { withUmask022 } from "../umask.ts";

const ENOENT = 2;
const EBADF = 9;
const EACCES = 13;
const EEXIST = 17;
const ENOTDIR = 20;
const EISDIR = 21;
const EINVAL = 22;
const ENFILE = 23;
const EPROTO = 71;
const EMSGSIZE = 90;
const EOPNOTSUPP = 95;
const RLERROR = MSG.TLERROR + 1;
const O_RDWR = 2;
const O_WRONLY = 1;
const GETATTR_BASIC = 0x7ff;

let h: P9Harness;
afterEach(() => h?.cleanup());
const session = (): P9Harness => {
  h = new P9Harness().start();
  return h;
};
const ino = (path: string) => BigInt(statSync(path).ino);
const getattr = (fid: number) => h.call(MSG.TGETATTR, new Msg().u32(fid).u64(GETATTR_BASIC));
/** Rgetattr: valid[8] qid[13] mode[4] uid[4] gid[4] nlink[8] rdev[8] size[8] ... mtime_sec at 85. */
const attr = (r: { view: DataView }) => ({
  mode: r.view.getUint32(21, true),
  uid: r.view.getUint32(25, true),
  nlink: Number(r.view.getBigUint64(33, true)),
  size: Number(r.view.getBigUint64(49, true)),
  mtime: Number(r.view.getBigUint64(89, true)),
});
function create(dirFid: number, newFid: number, name: string, flags = O_RDWR, mode = 0o644) {
  h.walk(dirFid, newFid);
  return h.call(MSG.TLCREATE, new Msg().u32(newFid).str(name).u32(flags).u32(mode).u32(0));
}
function write(fid: number, offset: number, data: Uint8Array) {
  return h.call(MSG.TWRITE, new Msg().u32(fid).u64(offset).u32(data.length), { data });
}
function read(fid: number, offset: number, count: number, replyHead = 11) {
  return h.call(MSG.TREAD, new Msg().u32(fid).u64(offset).u32(count), { replyHead });
}

describe("Tversion and Tattach", () => {
  test("Tversion 9P2000.L is answered with the smaller msize and the same version", () => {
    h = new P9Harness();

    const r = h.version(8 << 20);

    expect([r.type, r.view.getUint32(0, true), new TextDecoder().decode(r.body.subarray(6))]).toEqual([
      MSG.TVERSION + 1,
      MAX_MSIZE,
      "9P2000.L",
    ]);
  });

  test("another version is answered as unknown and the session stays closed", () => {
    h = new P9Harness();

    const r = h.version(65536, "9P2000.u");
    const after = h.attach(0);

    expect(new TextDecoder().decode(r.body.subarray(6))).toBe("unknown");
    expect(after.errno).toBe(EPROTO);
  });

  test("an msize below 4096 is refused", () => {
    h = new P9Harness();

    expect(h.version(1024).errno).toBe(EINVAL);
  });

  test("a message before Tversion is refused with EPROTO", () => {
    h = new P9Harness();

    expect(h.attach(0).errno).toBe(EPROTO);
  });

  test("Tattach answers the shared directory's qid", () => {
    h = new P9Harness();
    h.version();

    const r = h.attach(0);

    expect(qidAt(r.view, 0)).toEqual({ type: QTDIR, version: 0, path: ino(h.root) });
  });

  test("Tattach on a fid in use is refused", () => {
    session();

    expect(h.attach(0).errno).toBe(EEXIST);
  });

  test("Tversion clunks every fid of the old session", () => {
    session();
    h.version();

    expect(h.walk(0, 1).errno).toBe(EBADF);
  });
});

describe("Twalk", () => {
  test("a walk of two names answers both qids and the new fid names the file", () => {
    session();
    mkdirSync(join(h.root, "d"));
    writeFileSync(join(h.root, "d", "f"), "12345");

    const r = h.walk(0, 1, "d", "f");

    expect(r.view.getUint16(0, true)).toBe(2);
    expect(qidAt(r.view, 2)).toEqual({ type: QTDIR, version: 0, path: ino(join(h.root, "d")) });
    expect(qidAt(r.view, 15)).toEqual({ type: QTFILE, version: 0, path: ino(join(h.root, "d", "f")) });
    expect(attr(getattr(1)).size).toBe(5);
  });

  test("a walk of no names clones the fid", () => {
    session();

    const r = h.walk(0, 1);

    expect([r.type, r.view.getUint16(0, true)]).toEqual([MSG.TWALK + 1, 0]);
    expect(getattr(1).type).toBe(MSG.TGETATTR + 1);
  });

  test("a walk that fails at its first name is an Rlerror", () => {
    session();

    expect(h.walk(0, 1, "missing").errno).toBe(ENOENT);
  });

  test("a walk that fails later answers the qids it got and makes no new fid", () => {
    session();
    mkdirSync(join(h.root, "d"));

    const r = h.walk(0, 1, "d", "missing");

    expect([r.type, r.view.getUint16(0, true)]).toEqual([MSG.TWALK + 1, 1]);
    expect(h.clunk(1).errno).toBe(EBADF);
  });

  test("more than 16 names are refused", () => {
    session();

    expect(h.walk(0, 1, ...Array<string>(17).fill("d")).errno).toBe(EINVAL);
  });

  test("a newfid already in use is refused", () => {
    session();
    h.walk(0, 1);

    expect(h.walk(0, 1).errno).toBe(EEXIST);
  });

  test("'..' from the shared directory stays there, so the directory beside it is out of reach", () => {
    session();
    writeFileSync(join(h.outside, "secret"), "host");

    const up = h.walk(0, 1, "..", "..");
    const out = h.walk(0, 2, "..", "outside", "secret");

    expect([qidAt(up.view, 2).path, qidAt(up.view, 15).path]).toEqual([ino(h.root), ino(h.root)]);
    expect(out.view.getUint16(0, true)).toBe(1);
    expect(h.clunk(2).errno).toBe(EBADF);
  });

  test("'..' from a subdirectory is the shared directory", () => {
    session();
    mkdirSync(join(h.root, "d"));

    const r = h.walk(0, 1, "d", "..");

    expect(qidAt(r.view, 15).path).toBe(ino(h.root));
  });

  test("a name holding a '/' is refused", () => {
    session();
    mkdirSync(join(h.root, "d"));

    expect(h.walk(0, 1, "d/..").errno).toBe(EACCES);
  });

  test("a name holding a NUL is refused", () => {
    session();
    writeFileSync(join(h.root, "f"), "");

    expect(h.walk(0, 1, new Uint8Array([0x66, 0, 0x78])).errno).toBe(EINVAL);
  });

  test("a symlink is walked to as itself, never through to its target", () => {
    session();
    writeFileSync(join(h.outside, "secret"), "host");
    symlinkSync(h.outside, join(h.root, "link"));

    const r = h.walk(0, 1, "link", "secret");

    expect([r.type, r.view.getUint16(0, true), qidAt(r.view, 2).type]).toEqual([MSG.TWALK + 1, 1, QTSYMLINK]);
  });

  test("with ascii_casefold a name that differs only in ASCII case is found", () => {
    h = new P9Harness({ asciiCasefold: true }).start();
    writeFileSync(join(h.root, "ReadMe"), "x");

    const r = h.walk(0, 1, "README");

    expect(qidAt(r.view, 2).path).toBe(ino(join(h.root, "ReadMe")));
  });

  test("a fid beyond the table's limit is refused", () => {
    h = new P9Harness({}, 2).start();
    h.walk(0, 1);

    expect(h.walk(0, 2).errno).toBe(ENFILE);
  });

  test("a directory the host moved out of the share can no longer be used", () => {
    session();
    mkdirSync(join(h.root, "d"));
    h.walk(0, 1, "d");
    renameSync(join(h.root, "d"), join(h.outside, "d"));

    expect(h.walk(1, 2).errno).toBe(EBADF);
  });
});

describe("files", () => {
  test("Tlcreate makes the file with its mode and opens the fid on it", () => {
    session();

    const r = create(0, 1, "new", O_RDWR, 0o640);

    expect([r.type, qidAt(r.view, 0).path]).toEqual([MSG.TLCREATE + 1, ino(join(h.root, "new"))]);
    expect(statSync(join(h.root, "new")).mode & 0o777).toBe(0o640);
  });

  test("Tlcreate gives the file exactly its mode, setuid included, whatever the server's umask (pjdfstest chmod/12)", () => {
    session();

    withUmask022(() => create(0, 1, "suid", O_RDWR, 0o4777));

    expect(statSync(join(h.root, "suid")).mode & 0o7777).toBe(0o4777);
  });

  test("a write by a user other than root clears setuid and a group-executable file's setgid (pjdfstest chmod/12)", () => {
    session();
    writeFileSync(join(h.root, "suid"), "");
    chmodSync(join(h.root, "suid"), 0o6777);
    h.attach(5, 65534);
    h.walk(5, 6, "suid");
    h.lopen(6, 1 /* O_WRONLY */);

    write(6, 0, new TextEncoder().encode("x"));

    expect(statSync(join(h.root, "suid")).mode & 0o7777).toBe(0o777);
  });

  test("a write by root keeps setuid and setgid", () => {
    session();
    writeFileSync(join(h.root, "suid"), "");
    chmodSync(join(h.root, "suid"), 0o6777);
    h.walk(0, 6, "suid");
    h.lopen(6, 1 /* O_WRONLY */);

    write(6, 0, new TextEncoder().encode("x"));

    expect(statSync(join(h.root, "suid")).mode & 0o7777).toBe(0o6777);
  });

  test("Twrite writes the data that follows the message in its own buffer", () => {
    session();
    create(0, 1, "f");

    const r = write(1, 3, new TextEncoder().encode("abc"));

    expect(r.view.getUint32(0, true)).toBe(3);
    expect(readFileSync(join(h.root, "f"), "latin1")).toBe("\0\0\0abc");
  });

  test("Tread reads into the buffers after an 11-byte reply header", () => {
    session();
    writeFileSync(join(h.root, "f"), "hello world");
    h.walk(0, 1, "f");
    h.lopen(1, 0);

    const r = read(1, 6, 100);

    expect([r.size, r.view.getUint32(0, true)]).toEqual([11 + 5, 5]);
    expect(new TextDecoder().decode(r.body.subarray(4))).toBe("world");
  });

  test("Tread is cut to msize minus its header", () => {
    session();
    writeFileSync(join(h.root, "big"), new Uint8Array(200_000));
    h.walk(0, 1, "big");
    h.lopen(1, 0);

    const r = read(1, 0, 1 << 20);

    expect(r.view.getUint32(0, true)).toBe(65536);
  });

  test("Twrite whose count runs past the message is refused and writes nothing", () => {
    session();
    create(0, 1, "f");

    const r = h.call(MSG.TWRITE, new Msg().u32(1).u64(0).u32(100), { data: new Uint8Array(10) });

    expect(r.errno).toBe(EINVAL);
    expect(statSync(join(h.root, "f")).size).toBe(0);
  });

  test("Tread on a fid that is not open is refused", () => {
    session();
    writeFileSync(join(h.root, "f"), "x");
    h.walk(0, 1, "f");

    expect(read(1, 0, 10).errno).toBe(EBADF);
  });

  test("Tlopen of a directory for writing is refused", () => {
    session();

    h.walk(0, 1);

    expect(h.lopen(1, O_WRONLY).errno).toBe(EISDIR);
  });

  test("Tlcreate does not follow a symlink planted under the new name", () => {
    session();
    writeFileSync(join(h.outside, "secret"), "host");
    symlinkSync(join(h.outside, "secret"), join(h.root, "trap"));

    const r = create(0, 1, "trap", O_RDWR | 0o1000 /* O_TRUNC */);

    expect(r.type).toBe(RLERROR);
    expect(readFileSync(join(h.outside, "secret"), "utf8")).toBe("host");
  });

  test("Tfsync of an open fid succeeds", () => {
    session();
    create(0, 1, "f");

    expect(h.call(MSG.TFSYNC, new Msg().u32(1).u32(0)).type).toBe(MSG.TFSYNC + 1);
  });
});

describe("attributes", () => {
  test("Tgetattr answers the host's mode, size and link count", () => {
    session();
    writeFileSync(join(h.root, "f"), "abcd", { mode: 0o600 });
    h.walk(0, 1, "f");

    const a = attr(getattr(1));

    expect([a.mode, a.size, a.nlink]).toEqual([0o100600, 4, 1]);
  });

  test("Tgetattr shows the host owner through the uid map", () => {
    const hostUid = process.getuid!();
    h = new P9Harness({ uidMap: new IdMap([{ inner: 1000, outer: hostUid, count: 1 }]) }).start();
    writeFileSync(join(h.root, "f"), "");
    h.walk(0, 1, "f");

    expect(attr(getattr(1)).uid).toBe(1000);
  });

  test("Tsetattr truncates, changes the mode and sets the mtime", () => {
    session();
    writeFileSync(join(h.root, "f"), "abcdef");
    h.walk(0, 1, "f");
    const valid = 0x1 | 0x8 | 0x20 | 0x100; // MODE | SIZE | MTIME | MTIME_SET

    const r = h.call(
      MSG.TSETATTR,
      new Msg().u32(1).u32(valid).u32(0o600).u32(0).u32(0).u64(2).u64(0).u64(0).u64(1_000_000).u64(0),
    );

    const st = statSync(join(h.root, "f"));
    expect(r.type).toBe(MSG.TSETATTR + 1);
    expect([st.size, st.mode & 0o777, Math.floor(st.mtimeMs / 1000)]).toEqual([2, 0o600, 1_000_000]);
  });

  test("Tstatfs answers the host file system's block size and name length", () => {
    session();

    const r = h.call(MSG.TSTATFS, new Msg().u32(0));

    // type[4] bsize[4] blocks bfree bavail files ffree fsid [8 each] namelen[4]
    expect(r.view.getUint32(4, true)).toBeGreaterThan(0);
    expect(r.view.getUint32(56, true)).toBe(255);
  });
});

describe("directories and names", () => {
  function readdir(fid: number, offset: bigint, count: number) {
    const r = h.call(MSG.TREADDIR, new Msg().u32(fid).u64(offset).u32(count), { replyHead: 11 });
    const entries: { name: string; offset: bigint; type: number }[] = [];
    const n = r.view.getUint32(0, true);
    for (let at = 4; at < 4 + n;) {
      const offset = r.view.getBigUint64(at + 13, true);
      const type = r.view.getUint8(at + 21);
      const len = r.view.getUint16(at + 22, true);
      entries.push({ name: new TextDecoder().decode(r.body.subarray(at + 24, at + 24 + len)), offset, type });
      at += 24 + len;
    }
    return { r, entries };
  }

  test("Treaddir lists every entry with its type", () => {
    session();
    mkdirSync(join(h.root, "sub"));
    writeFileSync(join(h.root, "file"), "");
    h.walk(0, 1);
    h.lopen(1, 0);

    const { entries } = readdir(1, 0n, 8192);

    expect(entries.map((e) => `${e.name}:${e.type}`).sort()).toEqual(["..:4", ".:4", "file:8", "sub:4"]);
  });

  test("Treaddir of the shared directory shows '..' as the directory itself", () => {
    session();
    h.walk(0, 1);
    h.lopen(1, 0);

    const r = h.call(MSG.TREADDIR, new Msg().u32(1).u64(0).u32(8192), { replyHead: 11 });
    const paths = new Map<string, bigint>();
    for (let at = 4; at < 4 + r.view.getUint32(0, true);) {
      const len = r.view.getUint16(at + 22, true);
      paths.set(
        new TextDecoder().decode(r.body.subarray(at + 24, at + 24 + len)),
        r.view.getBigUint64(at + 5, true),
      );
      at += 24 + len;
    }

    expect(paths.get("..")).toBe(ino(h.root));
  });

  test("Treaddir from the last cookie continues where a short reply stopped", () => {
    session();
    for (let i = 0; i < 20; i++) writeFileSync(join(h.root, `name-${i}`), "");
    h.walk(0, 1);
    h.lopen(1, 0);

    const first = readdir(1, 0n, 100).entries;
    const rest = readdir(1, first.at(-1)!.offset, 8192).entries;

    expect(first.length).toBeGreaterThan(0);
    expect(first.length).toBeLessThan(22);
    expect(new Set([...first, ...rest].map((e) => e.name)).size).toBe(22);
  });

  test("Tmkdir makes a directory and answers its qid", () => {
    session();

    const r = h.call(MSG.TMKDIR, new Msg().u32(0).str("d").u32(0o750).u32(0));

    expect(qidAt(r.view, 0).type).toBe(QTDIR);
    expect(statSync(join(h.root, "d")).mode & 0o777).toBe(0o750);
  });

  test("Tmkdir gives the directory exactly its mode, sticky bit included, whatever the server's umask", () => {
    session();

    withUmask022(() => h.call(MSG.TMKDIR, new Msg().u32(0).str("d").u32(0o1777).u32(0)));

    expect(statSync(join(h.root, "d")).mode & 0o7777).toBe(0o1777);
  });

  test("a name longer than NAME_MAX is refused", () => {
    session();

    expect(h.call(MSG.TMKDIR, new Msg().u32(0).str("n".repeat(256)).u32(0o755).u32(0)).errno).toBe(36);
  });

  test("Tmkdir of '..' is refused", () => {
    session();

    expect(h.call(MSG.TMKDIR, new Msg().u32(0).str("..").u32(0o755).u32(0)).errno).toBe(EACCES);
  });

  test("Tsymlink stores the target as text and Treadlink answers it", () => {
    session();

    h.call(MSG.TSYMLINK, new Msg().u32(0).str("l").str("../../etc/passwd").u32(0));
    h.walk(0, 1, "l");
    const r = h.call(MSG.TREADLINK, new Msg().u32(1));

    expect(readlinkSync(join(h.root, "l"))).toBe("../../etc/passwd");
    expect(new TextDecoder().decode(r.body.subarray(2))).toBe("../../etc/passwd");
  });

  test("Tmknod makes a FIFO", () => {
    session();

    const r = h.call(MSG.TMKNOD, new Msg().u32(0).str("p").u32(0o10644).u32(0).u32(0).u32(0));

    expect(r.type).toBe(MSG.TMKNOD + 1);
    expect(lstatSync(join(h.root, "p")).isFIFO()).toBe(true);
  });

  test("Tlink gives the file a second name", () => {
    session();
    writeFileSync(join(h.root, "a"), "x");
    h.walk(0, 1, "a");

    h.call(MSG.TLINK, new Msg().u32(0).u32(1).str("b"));

    expect(statSync(join(h.root, "b")).nlink).toBe(2);
  });

  test("Trenameat moves a name between directories", () => {
    session();
    mkdirSync(join(h.root, "d"));
    writeFileSync(join(h.root, "a"), "x");
    h.walk(0, 1, "d");

    const r = h.call(MSG.TRENAMEAT, new Msg().u32(0).str("a").u32(1).str("b"));

    expect(r.type).toBe(MSG.TRENAMEAT + 1);
    expect([existsSync(join(h.root, "a")), readFileSync(join(h.root, "d", "b"), "utf8")]).toEqual([
      false,
      "x",
    ]);
  });

  test("Trename moves the name the fid was walked to", () => {
    session();
    writeFileSync(join(h.root, "a"), "x");
    h.walk(0, 1, "a");

    h.call(MSG.TRENAME, new Msg().u32(1).u32(0).str("c"));

    expect([existsSync(join(h.root, "a")), existsSync(join(h.root, "c"))]).toEqual([false, true]);
  });

  test("Tunlinkat removes a file, and a directory with AT_REMOVEDIR", () => {
    session();
    writeFileSync(join(h.root, "f"), "");
    mkdirSync(join(h.root, "d"));

    h.call(MSG.TUNLINKAT, new Msg().u32(0).str("f").u32(0));
    h.call(MSG.TUNLINKAT, new Msg().u32(0).str("d").u32(DOTL_AT_REMOVEDIR));

    expect([existsSync(join(h.root, "f")), existsSync(join(h.root, "d"))]).toEqual([false, false]);
  });

  test("Tunlinkat with an unknown flag is refused", () => {
    session();
    writeFileSync(join(h.root, "f"), "");

    expect(h.call(MSG.TUNLINKAT, new Msg().u32(0).str("f").u32(1)).errno).toBe(EINVAL);
  });

  test("Tunlinkat through a non-directory fid is refused", () => {
    session();
    writeFileSync(join(h.root, "f"), "");
    h.walk(0, 1, "f");

    expect(h.call(MSG.TUNLINKAT, new Msg().u32(1).str("x").u32(0)).errno).toBe(ENOTDIR);
  });

  test("Tremove removes the walked name and clunks the fid", () => {
    session();
    writeFileSync(join(h.root, "f"), "");
    h.walk(0, 1, "f");

    const r = h.call(MSG.TREMOVE, new Msg().u32(1));

    expect([r.type, existsSync(join(h.root, "f"))]).toEqual([MSG.TREMOVE + 1, false]);
    expect(h.clunk(1).errno).toBe(EBADF);
  });

  test("Tremove of a name that now names another file removes nothing", () => {
    session();
    writeFileSync(join(h.root, "f"), "old");
    h.walk(0, 1, "f");
    renameSync(join(h.root, "f"), join(h.root, "g"));
    writeFileSync(join(h.root, "f"), "new");

    const r = h.call(MSG.TREMOVE, new Msg().u32(1));

    expect(r.errno).toBe(ENOENT);
    expect(readFileSync(join(h.root, "f"), "utf8")).toBe("new");
  });
});

describe("the rest of the protocol", () => {
  test("Txattrwalk is answered EOPNOTSUPP", () => {
    session();

    expect(h.call(MSG.TXATTRWALK, new Msg().u32(0).u32(1).str("user.x")).errno).toBe(EOPNOTSUPP);
  });

  test("Tlock is granted and Tgetlock finds no lock in the way", () => {
    session();
    create(0, 1, "f");

    const lock = h.call(MSG.TLOCK, new Msg().u32(1).u8(1).u32(0).u64(0).u64(10).u32(42).str("guest"));
    const get = h.call(MSG.TGETLOCK, new Msg().u32(1).u8(1).u64(0).u64(10).u32(42).str("guest"));

    expect([lock.type, lock.body[0]]).toEqual([MSG.TLOCK + 1, 0]);
    expect([get.type, get.body[0]]).toEqual([MSG.TGETLOCK + 1, 2]);
  });

  test("Tflush is answered at once", () => {
    session();

    expect(h.call(MSG.TFLUSH, new Msg().u16(3)).type).toBe(MSG.TFLUSH + 1);
  });

  test("a 9P2000 message the .L dialect does not use is answered EOPNOTSUPP", () => {
    session();

    expect(h.call(MSG.TSTAT, new Msg().u32(0)).errno).toBe(EOPNOTSUPP);
  });
});

describe("hostile messages", () => {
  test("fewer than 7 bytes get no reply and a warning", () => {
    session();

    const r = h.call(MSG.TCLUNK, new Msg(), { truncate: 5 });

    expect(r.written).toBe(0);
    expect(h.warnings.at(-1)).toContain("no 9P header");
  });

  test("a size field past the chain's readable bytes is refused", () => {
    session();

    expect(h.call(MSG.TCLUNK, new Msg().u32(0), { size: 4096 }).errno).toBe(EINVAL);
  });

  test("a message larger than the negotiated msize is refused", () => {
    h = new P9Harness();
    h.version(4096);
    h.attach(0);

    const r = h.call(MSG.TWRITE, new Msg().u32(0).u64(0).u32(8000), { data: new Uint8Array(8000) });

    expect(r.errno).toBe(EMSGSIZE);
  });

  test("a walk whose count promises more names than it carries is refused", () => {
    session();
    mkdirSync(join(h.root, "d"));

    const r = h.call(MSG.TWALK, new Msg().u32(0).u32(1).u16(3).str("d"));

    expect(r.errno).toBe(EINVAL);
    expect(h.clunk(1).errno).toBe(EBADF);
  });

  test("a string whose length runs past the message is refused", () => {
    session();

    expect(h.call(MSG.TMKDIR, new Msg().u32(0).u16(500).u8(0x61)).errno).toBe(EINVAL);
    expect(existsSync(join(h.root, "a"))).toBe(false);
  });

  test("a reply buffer with no room for Rlerror gets nothing", () => {
    session();

    const r = h.call(MSG.TCLUNK, new Msg().u32(99), { replyRoom: 8 });

    expect(r.written).toBe(0);
  });

  test("an unknown fid is refused", () => {
    session();

    expect(getattr(77).errno).toBe(EBADF);
  });
});
