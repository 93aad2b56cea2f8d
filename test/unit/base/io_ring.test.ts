// IoRing against the host kernel: vectored reads and writes in flight together on a registered file, and the
// restrictions that hold once the ring is enabled.
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ioUringRegister, IORING_REGISTER_FILES } from "../../../ffi/io_uring.ts";
import { addressOf } from "../../../ffi/libc.ts";
import { IoRing } from "../../../src/base/io_ring.ts";
import { IovecList } from "../../../src/disk/raw.ts";

let dir: string;
let fd: number;
let ring: IoRing;
const path = () => join(dir, "disk.img");

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "io-ring-"));
  writeFileSync(path(), Buffer.alloc(1 << 20, 0x5a));
  fd = openSync(path(), "r+");
  ring = new IoRing(8, [fd]);
});

afterEach(() => {
  ring.close();
  closeSync(fd);
  rmSync(dir, { recursive: true });
});

function iovecsOf(...bufs: Uint8Array[]): IovecList {
  const iov = new IovecList();
  for (const b of bufs) iov.push(addressOf(b), b.length);
  return iov;
}

function reapAll(): Map<number, number> {
  const results = new Map<number, number>();
  ring.reap((tag, result) => results.set(tag, result));
  return results;
}

describe("IoRing", () => {
  test("eight reads in flight at once each fill their buffers and report the bytes moved", () => {
    const bufs = Array.from({ length: 8 }, () => new Uint8Array(4096));
    const lists = bufs.map((b) => iovecsOf(b));

    lists.forEach((iov, i) => ring.prepare(false, 0, addressOf(iov.words), iov.count, i * 4096, i));
    ring.waitAll();
    const results = reapAll();

    expect([...results.keys()].sort()).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect([...results.values()]).toEqual(new Array(8).fill(4096));
    expect(bufs.every((b) => b.every((x) => x === 0x5a))).toBe(true);
    expect(ring.inFlight).toBe(0);
  });

  test("a vectored write lands at its offset, in buffer order", () => {
    const iov = iovecsOf(new Uint8Array(512).fill(1), new Uint8Array(512).fill(2));

    ring.prepare(true, 0, addressOf(iov.words), iov.count, 8192, 7);
    ring.waitAll();
    const results = reapAll();

    const file = readFileSync(path());
    expect(results.get(7)).toBe(1024);
    expect([file[8191], file[8192], file[8703], file[8704], file[9215], file[9216]]).toEqual([
      0x5a, 1, 1, 2, 2, 0x5a,
    ]);
  });

  test("a request on a file index that was not registered completes with an error and touches nothing", () => {
    const buf = new Uint8Array(4096);
    const iov = iovecsOf(buf);

    ring.prepare(false, 1, addressOf(iov.words), iov.count, 0, 3);
    ring.waitAll();
    const results = reapAll();

    expect(results.get(3)).toBeLessThan(0);
    expect(buf.every((x) => x === 0)).toBe(true);
  });

  test("the ring refuses io_uring_register once enabled (restrictions allow no register operation)", () => {
    expect(() => ioUringRegister(ring.fd, IORING_REGISTER_FILES, Int32Array.of(fd), 1)).toThrow("EACCES");
  });

  test("prepare refuses a request beyond the ring's entries until completions are reaped", () => {
    const buf = new Uint8Array(512);
    const iov = iovecsOf(buf);

    const accepted = Array.from({ length: 9 }, (_, i) =>
      ring.prepare(false, 0, addressOf(iov.words), iov.count, 0, i),
    );
    ring.waitAll();
    reapAll();

    expect(accepted).toEqual([true, true, true, true, true, true, true, true, false]);
    expect(ring.prepare(false, 0, addressOf(iov.words), iov.count, 0, 9)).toBe(true);
    ring.waitAll();
    expect(reapAll().get(9)).toBe(512);
  });
});
