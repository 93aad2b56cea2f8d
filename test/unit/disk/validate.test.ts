import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { DiskLockedError, MAX_BACKING_DEPTH, openDisk } from "../../../src/disk/open.ts";
import { createQcow2 } from "../../../src/disk/qcow2/create.ts";
import { validateBlockImages } from "../../../src/disk/validate.ts";
import { tempDir } from "./helpers.ts";

let tmp: ReturnType<typeof tempDir>;
beforeEach(() => {
  tmp = tempDir();
});
afterEach(() => tmp.remove());

const MiB = 1 << 20;
const rw = (path: string, lock?: boolean) => ({ path, ro: false, direct: false, lock });
const ro = (path: string) => ({ path, ro: true, direct: false });

function rawImage(name: string): string {
  const p = tmp.path(name);
  writeFileSync(p, new Uint8Array(MiB));
  return p;
}

describe("--block images are validated with one line naming the option", () => {
  test("a missing image reads like the shell's message", () => {
    const p = tmp.path("data.img");
    expect(() => validateBlockImages([rw(p)])).toThrow(
      `--block ${p}: cannot open: No such file or directory`,
    );
  });

  test("one writable image given twice is refused, naming the image and the lock option", () => {
    const p = rawImage("d.img");
    expect(() => validateBlockImages([rw(p), rw(p)])).toThrow(`--block ${p}: is locked`);
    expect(() => validateBlockImages([rw(p), rw(p)])).toThrow("lock=false");
  });

  test("one image given twice read-only is accepted (shared locks)", () => {
    const p = rawImage("d.img");
    expect(() => validateBlockImages([ro(p), ro(p)])).not.toThrow();
  });

  test("a read-only user and a writer of one image conflict", () => {
    const p = rawImage("d.img");
    expect(() => validateBlockImages([ro(p), rw(p)])).toThrow(`--block ${p}: is locked`);
  });

  test("lock=false on both lets two writers share an image", () => {
    const p = rawImage("d.img");
    expect(() => validateBlockImages([rw(p, false), rw(p, false)])).not.toThrow();
  });

  test("validation releases its locks, so the device process can take them", () => {
    const p = rawImage("d.img");
    validateBlockImages([rw(p)]);
    const d = openDisk(p, { lock: true });
    d.close();
  });

  test("a missing backing file is named with the overlay's option", () => {
    const p = tmp.path("o.qcow2");
    createQcow2(p, MiB, { backingFile: "nope.raw", backingFormat: "raw" });
    expect(() => validateBlockImages([rw(p)])).toThrow(
      `--block ${p}: backing file ${tmp.path("nope.raw")}: cannot open: No such file or directory`,
    );
  });
});

describe("image locks (flock) held by an open disk", () => {
  test("a writer holds LOCK_EX: a second locked open fails with DiskLockedError", () => {
    const p = rawImage("d.img");
    const first = openDisk(p, { lock: true });
    expect(() => openDisk(p, { lock: true })).toThrow(DiskLockedError);
    expect(() => openDisk(p, { lock: true, readOnly: true })).toThrow(DiskLockedError);
    first.close();
  });

  test("a writer's backing file holds LOCK_SH: other readers may open it, writers may not", () => {
    const base = rawImage("base.raw");
    const p = tmp.path("o.qcow2");
    createQcow2(p, MiB, { backingFile: "base.raw", backingFormat: "raw" });
    const overlay = openDisk(p, { lock: true });
    openDisk(base, { lock: true, readOnly: true }).close();
    expect(() => openDisk(base, { lock: true })).toThrow(DiskLockedError);
    overlay.close();
  });
});

describe("backing file rules", () => {
  test("a backing chain with a cycle is refused", () => {
    const a = tmp.path("a.qcow2");
    const b = tmp.path("b.qcow2");
    createQcow2(a, MiB, { backingFile: "b.qcow2", backingFormat: "qcow2" });
    createQcow2(b, MiB, { backingFile: "a.qcow2", backingFormat: "qcow2" });
    expect(() => openDisk(a)).toThrow("backing file chain has a cycle");
  });

  test("a backing file that is not a regular file is refused", () => {
    const p = tmp.path("o.qcow2");
    createQcow2(p, MiB, { backingFile: "/dev/zero", backingFormat: "raw" });
    expect(() => openDisk(p)).toThrow("/dev/zero: is not a regular file");
  });

  test(`a chain of ${MAX_BACKING_DEPTH} backing files opens; one more is refused`, () => {
    rawImage("l0.img");
    for (let i = 1; i <= MAX_BACKING_DEPTH + 1; i++)
      createQcow2(tmp.path(`l${i}.qcow2`), MiB, {
        backingFile: i === 1 ? "l0.img" : `l${i - 1}.qcow2`,
        backingFormat: i === 1 ? "raw" : "qcow2",
      });

    openDisk(tmp.path(`l${MAX_BACKING_DEPTH}.qcow2`)).close();
    expect(() => openDisk(tmp.path(`l${MAX_BACKING_DEPTH + 1}.qcow2`))).toThrow(
      `backing file chain is deeper than ${MAX_BACKING_DEPTH}`,
    );
  });

  test("a relative backing name resolves next to the overlay, not in the working directory", () => {
    const base = rawImage("base.raw");
    writeFileSync(base, new Uint8Array(MiB).fill(9));
    const p = tmp.path("o.qcow2");
    createQcow2(p, MiB, { backingFile: "base.raw", backingFormat: "raw" });
    const d = openDisk(p, { readOnly: true });
    const b = new Uint8Array(4);
    d.readAt(b, 0);
    d.close();
    expect(b).toEqual(new Uint8Array(4).fill(9));
  });
});
