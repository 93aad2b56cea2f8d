import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { readFileSync, statSync, truncateSync, writeFileSync } from "node:fs";
import { openDisk } from "../../../src/disk/open.ts";
import { createQcow2 } from "../../../src/disk/qcow2/create.ts";
import { MAX_L1_ENTRIES } from "../../../src/disk/qcow2/header.ts";
import { hasQemuImg, pattern, qemuImg, tempDir } from "./helpers.ts";

let tmp: ReturnType<typeof tempDir>;
beforeEach(() => {
  tmp = tempDir();
});
afterEach(() => tmp.remove());

const KiB = 1024;
const MiB = 1024 * KiB;

/** A fresh 1 MiB image (64 KiB clusters) with `edit` applied to its bytes. */
function edited(edit: (v: DataView, bytes: Uint8Array) => void, size = MiB): string {
  const p = tmp.path("hostile.qcow2");
  createQcow2(p, size);
  const b = new Uint8Array(readFileSync(p));
  edit(new DataView(b.buffer), b);
  writeFileSync(p, b);
  return p;
}

/** Header fields (qcow2.txt): l1_size at 36, l1_table_offset at 40, refcount_table_offset at 48. */
const L1_SIZE = 36;
const L1_OFFSET = 40;
const REFCOUNT_TABLE_OFFSET = 48;
const REFCOUNT_ORDER = 96;

function l1Offset(v: DataView): number {
  return Number(v.getBigUint64(L1_OFFSET));
}

/** Makes L1 entry 0 point at an L2 table in a new cluster appended to the file, and returns that table's offset. */
function withL2(b: Uint8Array, v: DataView): { bytes: Uint8Array; l2: number } {
  const l2 = Math.ceil(b.length / 65536) * 65536;
  const out = new Uint8Array(l2 + 65536);
  out.set(b);
  new DataView(out.buffer).setBigUint64(l1Offset(v), BigInt(l2) | (1n << 63n));
  return { bytes: out, l2 };
}

function imageWithL2Entry(entry: bigint): string {
  const p = tmp.path("l2.qcow2");
  createQcow2(p, MiB);
  const b = new Uint8Array(readFileSync(p));
  const { bytes, l2 } = withL2(b, new DataView(b.buffer));
  new DataView(bytes.buffer).setBigUint64(l2, entry);
  writeFileSync(p, bytes);
  return p;
}

describe("hostile qcow2 headers are refused or handled without large allocations", () => {
  test("an l1_size of 2^32-1 is refused", () => {
    const p = edited((v) => v.setUint32(L1_SIZE, 0xffff_ffff));
    expect(() => openDisk(p)).toThrow(
      `qcow2 l1_size 4294967295 is larger than the limit of ${MAX_L1_ENTRIES}`,
    );
  });

  test("a virtual size needing more L1 entries than the limit is refused (512-byte clusters, 1 PiB)", () => {
    const p = tmp.path("huge.qcow2");
    expect(() => createQcow2(p, 2 ** 50, { clusterBits: 9 })).toThrow();
    const q = edited((v) => {
      v.setUint32(20, 9);
      v.setBigUint64(24, 2n ** 50n);
    });
    expect(() => openDisk(q)).toThrow("L1 entries (limit");
  });

  test("a large l1_size over a sparse file reads only the entries the virtual size needs", () => {
    const p = edited((v) => v.setUint32(L1_SIZE, MAX_L1_ENTRIES));
    truncateSync(p, 64 * MiB);
    const rssBefore = process.memoryUsage().rss;

    const d = openDisk(p);
    d.writeAt(pattern(4096, 1), 0);

    expect(process.memoryUsage().rss - rssBefore).toBeLessThan(16 * MiB);
    d.close();
  });

  test("an L1 table at offset 0 (inside the header) is refused", () => {
    const p = edited((v) => v.setBigUint64(L1_OFFSET, 0n));
    expect(() => openDisk(p)).toThrow("l1_table_offset 0x0 is outside the file");
  });

  test("an L1 table on top of the refcount table is refused", () => {
    const p = edited((v) => v.setBigUint64(L1_OFFSET, v.getBigUint64(REFCOUNT_TABLE_OFFSET)));
    expect(() => openDisk(p)).toThrow("L1 table and refcount table overlap");
  });

  test("refcount_order 0 is refused by name", () => {
    const p = edited((v) => v.setUint32(REFCOUNT_ORDER, 0));
    expect(() => openDisk(p)).toThrow("qcow2 refcount_order 0 is not supported (expected 3..6)");
  });

  test("an L2 entry pointing far past the end of the file fails the access and does not grow the file", () => {
    const p = imageWithL2Entry(BigInt(2 ** 50) | (1n << 63n));
    const sizeBefore = statSync(p).size;
    const d = openDisk(p);

    expect(() => d.writeAt(new Uint8Array(512), 0)).toThrow(
      "data cluster at 0x4000000000000 lies past the end of the file",
    );
    expect(() => d.readAt(new Uint8Array(512), 0)).toThrow("lies past the end of the file");
    d.close();

    expect(statSync(p).size).toBe(sizeBefore);
  });

  test("an L2 entry pointing into the header cluster is refused", () => {
    const p = imageWithL2Entry(BigInt(0x200) | (1n << 63n));
    const d = openDisk(p);
    expect(() => d.readAt(new Uint8Array(512), 0)).toThrow("is not cluster-aligned");
    d.close();
  });

  test("an L2 entry pointing at the refcount table is refused for reads and writes", () => {
    // createQcow2 puts the refcount table in the second cluster.
    const q = imageWithL2Entry(BigInt(64 * KiB) | (1n << 63n));
    const d = openDisk(q);
    expect(() => d.writeAt(new Uint8Array(512), 0)).toThrow("points into the image's metadata");
    expect(() => d.readAt(new Uint8Array(512), 0)).toThrow("points into the image's metadata");
    d.close();
  });

  test("an L2 entry pointing at its own L2 table is refused", () => {
    const p = tmp.path("self.qcow2");
    createQcow2(p, MiB);
    const b = new Uint8Array(readFileSync(p));
    const { bytes, l2 } = withL2(b, new DataView(b.buffer));
    new DataView(bytes.buffer).setBigUint64(l2, BigInt(l2) | (1n << 63n));
    writeFileSync(p, bytes);
    const d = openDisk(p);
    expect(() => d.writeAt(new Uint8Array(512), 0)).toThrow("points into the image's metadata");
    d.close();
  });
});

describe.skipIf(!hasQemuImg)("qcow2 extremes written by qemu-img stay consistent", () => {
  for (const [name, opts] of [
    ["cluster_bits 9", "cluster_size=512"],
    ["cluster_bits 21", "cluster_size=2M"],
    ["refcount order 6 (64-bit counts)", "refcount_bits=64"],
  ] as const) {
    test(`${name}: writes and discards read back and qemu-img check is clean`, () => {
      const p = tmp.path("x.qcow2");
      expect(qemuImg("create", "-q", "-f", "qcow2", "-o", opts, p, "8M").code).toBe(0);
      const d = openDisk(p);
      d.writeAt(pattern(300 * KiB, 1), 5 * KiB);
      d.discard(4 * MiB, 2 * MiB);
      d.writeAt(pattern(4096, 2), 4 * MiB);
      const back = new Uint8Array(300 * KiB);
      d.readAt(back, 5 * KiB);
      d.close();

      expect(back).toEqual(pattern(300 * KiB, 1));
      const r = qemuImg("check", p);
      expect(r.out).toContain("No errors were found");
    });
  }
});

describe("qcow2 reuses freed clusters", () => {
  test("1000 write+discard cycles keep the image below its virtual size plus metadata", () => {
    const p = tmp.path("churn.qcow2");
    const virtual = 4 * MiB;
    createQcow2(p, virtual, { clusterBits: 16 });
    const d = openDisk(p);
    const data = pattern(128 * KiB, 3);

    for (let i = 0; i < 1000; i++) {
      const at = ((i * 7919) % 31) * 128 * KiB;
      d.writeAt(data, at);
      d.discard(at, 128 * KiB);
    }
    d.close();

    // Metadata: header, refcount table and block, L1 table, one L2 table: five clusters.
    expect(statSync(p).size).toBeLessThanOrEqual(virtual + 5 * 64 * KiB);
    if (hasQemuImg) expect(qemuImg("check", p).out).toContain("No errors were found");
  }, 30_000);

  test("a cluster freed by a discard is the next one written", () => {
    const p = tmp.path("reuse.qcow2");
    createQcow2(p, 4 * MiB);
    const d = openDisk(p);
    d.writeAt(pattern(64 * KiB, 1), 0);
    const size = statSync(p).size;
    d.discard(0, 64 * KiB);

    d.writeAt(pattern(64 * KiB, 2), MiB);
    d.close();

    expect(statSync(p).size).toBe(size);
  });
});
