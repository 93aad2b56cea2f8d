// The virtio-pmem kind on the VMM side: which files may back a device (raw only, not empty, lockable), the guest
// mapping it asks for (the file's size in 2 MiB units), and vma-size's anonymous area.
import { afterEach, describe, expect, test } from "bun:test";
import { fstatSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { close } from "../../../ffi/libc.ts";
import { createQcow2 } from "../../../src/disk/qcow2/create.ts";
import type { PreparedDevice } from "../../../src/devices/virtio/kind.ts";
import { pmemKind, pmemMappingSize } from "../../../src/devices/virtio/pmem/kind.ts";

const MiB = 1024 * 1024;
const dir = mkdtempSync(join(tmpdir(), "crosvm-pmem-kind-"));
const prepared: PreparedDevice[] = [];
afterEach(() => {
  for (const p of prepared.splice(0)) for (const fd of p.backing) close(fd);
});

function prepare(options: { path: string; readOnly?: boolean; vmaSize?: number }): PreparedDevice {
  const p = pmemKind.prepare({ readOnly: false, ...options }, 0);
  prepared.push(p);
  return p;
}

function raw(name: string, bytes: number): string {
  const path = join(dir, name);
  writeFileSync(path, new Uint8Array(bytes));
  return path;
}

describe("--pmem files", () => {
  test("a raw file asks for a mapping of its size rounded up to 2 MiB, writable", () => {
    const path = raw("a.img", 3 * MiB + 512);

    const p = prepare({ path });

    expect(p.guestMapping).toEqual({
      fd: p.backing[0]!,
      fileBytes: 3 * MiB + 512,
      size: 4 * MiB,
      readOnly: false,
    });
    expect(p.label).toBe(`virtio-pmem 0 (${path})`);
  });

  test("ro asks for a read-only mapping", () => {
    const p = prepare({ path: raw("b.img", 4096), readOnly: true });

    expect(p.guestMapping?.readOnly).toBe(true);
  });

  test("a qcow2 image is refused with one line naming --pmem and the file", () => {
    const path = join(dir, "c.qcow2");
    createQcow2(path, 16 * MiB);

    expect(() => prepare({ path })).toThrow(
      `--pmem ${path}: is a qcow2 image; a pmem device maps the file as it is, so it must be raw`,
    );
  });

  test("an empty file is refused", () => {
    expect(() => prepare({ path: raw("d.img", 0) })).toThrow(
      "is empty (a pmem device needs at least one byte)",
    );
  });

  test("a missing file is refused with the shell's reason", () => {
    const path = join(dir, "missing.img");

    expect(() => prepare({ path })).toThrow(`--pmem ${path}: cannot open: No such file or directory`);
  });

  test("a file another writable device holds is refused as locked", () => {
    const path = raw("e.img", 4096);
    prepare({ path });

    expect(() => prepare({ path })).toThrow(
      `--pmem ${path}: is locked by another user of the file (a VM, a --block or another --pmem)`,
    );
  });

  test("vma-size backs the device with an anonymous area of that size instead of the file", () => {
    const p = prepare({ path: join(dir, "not-there"), vmaSize: 3 * MiB });

    expect(fstatSync(p.backing[0]!).size).toBe(3 * MiB);
    expect(p.guestMapping).toMatchObject({ fileBytes: 3 * MiB, size: 4 * MiB });
  });
});

test("mapping sizes are whole 2 MiB units", () => {
  expect([1, 2 * MiB, 2 * MiB + 1].map(pmemMappingSize)).toEqual([2 * MiB, 2 * MiB, 4 * MiB]);
});

test("the device process refuses to build without a guest mapping", () => {
  expect(() => pmemKind.build({ path: "/p.img", readOnly: false }, [5])).toThrow(
    "gave no file descriptor or no guest mapping",
  );
});

test("--pmem options select devices in order with their keys", () => {
  const selected = pmemKind.select({
    pmems: [
      { path: "/a.img", ro: true },
      { path: "/b", ro: false, vmaSize: 4096 },
    ],
  });

  expect(selected).toEqual([
    { path: "/a.img", readOnly: true },
    { path: "/b", readOnly: false, vmaSize: 4096 },
  ]);
});
