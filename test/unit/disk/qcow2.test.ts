import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import type { DiskFile } from "../../../src/disk/disk_file.ts";
import { openDisk } from "../../../src/disk/open.ts";
import { createQcow2 } from "../../../src/disk/qcow2/create.ts";
import { hasQemuImg, pattern, qemuImg, tempDir } from "./helpers.ts";

let tmp: ReturnType<typeof tempDir>;
beforeEach(() => {
  tmp = tempDir();
});
afterEach(() => tmp.remove());

const MiB = 1 << 20;

function read(d: DiskFile, offset: number, length: number): Uint8Array {
  const b = new Uint8Array(length);
  d.readAt(b, offset);
  return b;
}

/** Applies writes to both the image and an in-memory model of the virtual disk. */
function writeBoth(d: DiskFile, model: Uint8Array, offset: number, data: Uint8Array): void {
  d.writeAt(data, offset);
  model.set(data, offset);
}

function convertToRaw(image: string): Uint8Array {
  const out = tmp.path("converted.raw");
  const r = qemuImg("convert", "-O", "raw", image, out);
  if (r.code !== 0) throw new Error(r.out);
  return new Uint8Array(readFileSync(out));
}

describe("qcow2 images written by our own creator", () => {
  test("a new image reads as zeros with the requested virtual size", () => {
    const p = tmp.path("new.qcow2");
    createQcow2(p, 8 * MiB);
    const d = openDisk(p);
    expect([d.format, d.virtualSize()]).toEqual(["qcow2", 8 * MiB]);
    expect(read(d, 3 * MiB, 4096).every((b) => b === 0)).toBe(true);
    d.close();
  });

  test("writes across cluster boundaries read back after reopening", () => {
    const p = tmp.path("rw.qcow2");
    createQcow2(p, 8 * MiB, { clusterBits: 12 });
    const model = new Uint8Array(8 * MiB);
    let d = openDisk(p);
    writeBoth(d, model, 4000, pattern(10000, 1));
    writeBoth(d, model, 5 * MiB + 17, pattern(300, 2));
    d.close();
    d = openDisk(p);
    expect(read(d, 0, 8 * MiB)).toEqual(model);
    d.close();
  });

  test("writing past the virtual size fails naming the image", () => {
    const p = tmp.path("small.qcow2");
    createQcow2(p, MiB);
    const d = openDisk(p);
    expect(() => d.writeAt(new Uint8Array(512), MiB)).toThrow(`disk image ${p}: access`);
    d.close();
  });

  test("write_zeroes over whole clusters makes them read as zeros", () => {
    const p = tmp.path("z.qcow2");
    createQcow2(p, 4 * MiB, { clusterBits: 12 });
    const d = openDisk(p);
    d.writeAt(pattern(65536, 3), 0);
    d.writeZeroes(4096, 8192 + 100, true);
    const expected = pattern(65536, 3);
    expected.fill(0, 4096, 4096 + 8192 + 100);
    expect(read(d, 0, 65536)).toEqual(expected);
    d.close();
  });

  test.skipIf(!hasQemuImg)("qemu-img check accepts an image created and written by our code", () => {
    const p = tmp.path("ours.qcow2");
    createQcow2(p, 16 * MiB, { clusterBits: 9 });
    const d = openDisk(p);
    for (let i = 0; i < 40; i++) d.writeAt(pattern(700, i), (i * 397_331) % (16 * MiB - 700));
    d.close();
    const r = qemuImg("check", p);
    expect(r.out).toContain("No errors were found");
    expect(r.code).toBe(0);
  });
});

describe.skipIf(!hasQemuImg)("qcow2 against qemu-img (Debian qemu-utils)", () => {
  test("an image from qemu-img create, written by our code, passes qemu-img check", () => {
    const p = tmp.path("q.qcow2");
    expect(qemuImg("create", "-q", "-f", "qcow2", "-o", "cluster_size=4096", p, "64M").code).toBe(0);
    const d = openDisk(p);
    for (let i = 0; i < 50; i++) d.writeAt(pattern(5000, i), (i * 1_299_827) % (64 * MiB - 5000));
    d.close();
    const r = qemuImg("check", p);
    expect(r.out).toContain("No errors were found");
    expect(r.code).toBe(0);
  });

  test("qemu-img convert -O raw of our writes equals the model", () => {
    const p = tmp.path("c.qcow2");
    expect(qemuImg("create", "-q", "-f", "qcow2", "-o", "cluster_size=4096", p, "16M").code).toBe(0);
    const model = new Uint8Array(16 * MiB);
    const d = openDisk(p);
    for (let i = 0; i < 30; i++) writeBoth(d, model, (i * 524_287) % (16 * MiB - 9000), pattern(9000, i));
    d.close();
    expect(convertToRaw(p)).toEqual(model);
  });

  test("refcount table growth (512-byte clusters, >8 MiB written) keeps the image consistent", () => {
    const p = tmp.path("grow.qcow2");
    expect(qemuImg("create", "-q", "-f", "qcow2", "-o", "cluster_size=512", p, "32M").code).toBe(0);
    const model = new Uint8Array(32 * MiB);
    const d = openDisk(p);
    for (let off = 0; off < 12 * MiB; off += 256 * 1024) writeBoth(d, model, off, pattern(256 * 1024, off));
    d.close();
    const r = qemuImg("check", p);
    expect(r.out).toContain("No errors were found");
    expect(convertToRaw(p)).toEqual(model);
  }, 30_000);

  test("data written by qemu-io style convert reads back through our code", () => {
    const src = tmp.path("src.raw");
    const data = pattern(3 * MiB, 42);
    writeFileSync(src, data);
    const p = tmp.path("from-raw.qcow2");
    expect(qemuImg("convert", "-O", "qcow2", src, p).code).toBe(0);
    const d = openDisk(p, { readOnly: true });
    expect(read(d, 0, 3 * MiB)).toEqual(data);
    d.close();
  });

  test("an overlay reads unwritten clusters from its raw backing file and keeps the backing untouched", () => {
    const base = tmp.path("base.raw");
    const baseData = pattern(4 * MiB, 5);
    writeFileSync(base, baseData);
    const p = tmp.path("overlay.qcow2");
    expect(qemuImg("create", "-q", "-f", "qcow2", "-b", "base.raw", "-F", "raw", p).code).toBe(0);
    const model = baseData.slice();
    const d = openDisk(p);
    writeBoth(d, model, 70_000, pattern(1000, 6)); // inside one 64 KiB cluster: the rest comes from the base
    d.writeZeroes(2 * MiB, 65536, true);
    model.fill(0, 2 * MiB, 2 * MiB + 65536);
    expect(read(d, 0, 4 * MiB)).toEqual(model);
    d.close();
    expect(new Uint8Array(readFileSync(base))).toEqual(baseData);
    expect(qemuImg("check", p).code).toBe(0);
    expect(convertToRaw(p)).toEqual(model);
  });

  test("a version 2 image (compat=0.10) is written consistently", () => {
    const p = tmp.path("v2.qcow2");
    expect(qemuImg("create", "-q", "-f", "qcow2", "-o", "compat=0.10", p, "4M").code).toBe(0);
    const model = new Uint8Array(4 * MiB);
    const d = openDisk(p);
    writeBoth(d, model, 123_456, pattern(70_000, 11));
    d.close();
    expect(qemuImg("check", p).code).toBe(0);
    expect(convertToRaw(p)).toEqual(model);
  });

  test("reading a compressed cluster fails naming the image", () => {
    const src = tmp.path("c.raw");
    writeFileSync(src, pattern(MiB, 12));
    const p = tmp.path("compressed.qcow2");
    expect(qemuImg("convert", "-c", "-O", "qcow2", src, p).code).toBe(0);
    const d = openDisk(p, { readOnly: true });
    expect(() => read(d, 0, 512)).toThrow(`disk image ${p}: compressed clusters are not supported`);
    d.close();
  });

  test("discarded clusters are freed and the image still passes qemu-img check", () => {
    const p = tmp.path("d.qcow2");
    expect(qemuImg("create", "-q", "-f", "qcow2", p, "8M").code).toBe(0);
    const d = openDisk(p);
    d.writeAt(pattern(4 * MiB, 8), 0);
    d.discard(MiB, 2 * MiB);
    d.close();
    const r = qemuImg("check", p);
    expect(r.out).toContain("No errors were found");
    const expected = new Uint8Array(8 * MiB);
    expected.set(pattern(4 * MiB, 8));
    expected.fill(0, MiB, 3 * MiB);
    expect(convertToRaw(p)).toEqual(expected);
  });
});

describe("malformed qcow2 images", () => {
  function corrupt(offset: number, bytes: number[]): string {
    const p = tmp.path("bad.qcow2");
    createQcow2(p, MiB);
    const b = new Uint8Array(readFileSync(p));
    b.set(bytes, offset);
    writeFileSync(p, b);
    return p;
  }

  test("an unsupported version is named", () => {
    const p = corrupt(4, [0, 0, 0, 9]);
    expect(() => openDisk(p)).toThrow(`disk image ${p}: qcow2 version 9 is not supported (expected 2 or 3)`);
  });

  test("a cluster size out of range is named", () => {
    const p = corrupt(20, [0, 0, 0, 30]);
    expect(() => openDisk(p)).toThrow("qcow2 cluster_bits 30 is outside 9..21");
  });

  test("an encrypted image is refused", () => {
    const p = corrupt(32, [0, 0, 0, 1]);
    expect(() => openDisk(p)).toThrow("encrypted qcow2 images are not supported");
  });

  test("an L1 table beyond the end of the file is refused", () => {
    const p = corrupt(40, [0, 0, 0, 1, 0, 0, 0, 0]);
    expect(() => openDisk(p)).toThrow("l1_table_offset 0x100000000 is outside the file");
  });

  test("a dirty image is refused with the repair command", () => {
    const p = corrupt(79, [1]);
    expect(() => openDisk(p)).toThrow("marked dirty");
  });

  test("an L1 entry pointing past the end of the file fails the read, not the process", () => {
    const p = tmp.path("l1.qcow2");
    createQcow2(p, MiB, { clusterBits: 12 });
    const b = new Uint8Array(readFileSync(p));
    const l1 = Number(new DataView(b.buffer).getBigUint64(40));
    new DataView(b.buffer).setBigUint64(l1, 0x8000_0000_0100_0000n);
    writeFileSync(p, b);
    const d = openDisk(p, { readOnly: true });
    expect(() => read(d, 0, 512)).toThrow("L2 table at 0x1000000 lies past the end of the file");
    d.close();
  });

  test("a truncated header is refused", () => {
    const p = tmp.path("tiny.qcow2");
    writeFileSync(p, Uint8Array.of(0x51, 0x46, 0x49, 0xfb, 0, 0, 0, 3));
    expect(() => openDisk(p)).toThrow(`disk image ${p}: qcow2 header is truncated`);
  });

  test("a missing backing file is named together with the overlay", () => {
    const p = tmp.path("orphan.qcow2");
    createQcow2(p, MiB, { backingFile: "nope.raw", backingFormat: "raw" });
    expect(() => openDisk(p)).toThrow(
      `disk image ${p}: backing file ${tmp.path("nope.raw")}: cannot open: No such file or directory`,
    );
  });
});
