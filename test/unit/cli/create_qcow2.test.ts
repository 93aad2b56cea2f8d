import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { openDisk } from "../../../src/disk/open.ts";
import { hasQemuImg, qemuImg, tempDir } from "../disk/helpers.ts";

const MAIN = join(import.meta.dir, "../../../src/main.ts");

function crosvm(...args: string[]): { status: number; stderr: string } {
  const p = Bun.spawnSync([process.execPath, MAIN, ...args], { stdout: "pipe", stderr: "pipe" });
  return { status: p.exitCode, stderr: p.stderr.toString() };
}

let tmp: ReturnType<typeof tempDir>;
beforeEach(() => {
  tmp = tempDir();
});
afterEach(() => tmp.remove());

describe("crosvm create_qcow2", () => {
  test("PATH SIZE creates an empty image of SIZE bytes that qemu-img check accepts", () => {
    const p = tmp.path("new.qcow2");

    const r = crosvm("create_qcow2", p, "1073741824");

    expect(r).toEqual({ status: 0, stderr: "" });
    const d = openDisk(p, { readOnly: true });
    expect([d.format, d.virtualSize()]).toEqual(["qcow2", 1073741824]);
    d.close();
    if (hasQemuImg) expect(qemuImg("check", p).out).toContain("No errors were found");
  });

  test("--backing-file makes an overlay with the backing image's size and format", () => {
    const base = tmp.path("base.qcow2");
    expect(crosvm("create_qcow2", base, "8388608").status).toBe(0);
    const p = tmp.path("overlay.qcow2");

    const r = crosvm("create_qcow2", p, "--backing-file", "base.qcow2");

    expect(r).toEqual({ status: 0, stderr: "" });
    const d = openDisk(p, { readOnly: true });
    expect(d.virtualSize()).toBe(8388608);
    d.close();
    if (hasQemuImg) {
      expect(qemuImg("check", p).out).toContain("No errors were found");
      expect(qemuImg("info", p).out).toContain("backing file format: qcow2");
    }
  });

  test("SIZE together with --backing-file is refused with status 35", () => {
    const r = crosvm("create_qcow2", tmp.path("x.qcow2"), "512", "--backing-file", "b.img");
    expect(r).toEqual({
      status: 35,
      stderr: "crosvm create_qcow2: SIZE may not be given together with --backing-file\n",
    });
  });

  test("an existing file is not overwritten: one line and status 1", () => {
    const p = tmp.path("twice.qcow2");
    crosvm("create_qcow2", p, "1048576");
    const r = crosvm("create_qcow2", p, "1048576");
    expect(r).toEqual({
      status: 1,
      stderr: `crosvm create_qcow2: disk image ${p}: cannot create: File exists\n`,
    });
    expect(existsSync(p)).toBe(true);
  });
});
