// `crosvm run` checks every --block before anything starts (no /dev/kvm needed to see it): one line naming the
// option and the image, status 1.
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { openDisk } from "../../../src/disk/open.ts";
import { tempDir } from "../disk/helpers.ts";

const MAIN = join(import.meta.dir, "../../../src/main.ts");

function crosvmRun(...args: string[]): { status: number; stderr: string } {
  const p = Bun.spawnSync([process.execPath, MAIN, "run", ...args], { stdout: "pipe", stderr: "pipe" });
  return { status: p.exitCode, stderr: p.stderr.toString() };
}

let tmp: ReturnType<typeof tempDir>;
beforeEach(() => {
  tmp = tempDir();
});
afterEach(() => tmp.remove());

describe("crosvm run refuses a bad --block in one line", () => {
  test("a missing image", () => {
    const p = tmp.path("data.img");
    const r = crosvmRun("--block", p, tmp.path("bzImage"));
    expect(r).toEqual({
      status: 1,
      stderr: `crosvm: --block ${p}: cannot open: No such file or directory\n`,
    });
  });

  test("an image another VM has open for writing (its lock held here) is refused, naming lock=false", () => {
    const p = tmp.path("shared.img");
    writeFileSync(p, new Uint8Array(1 << 20));
    const otherVm = openDisk(p, { lock: true });

    const r = crosvmRun("--block", p, tmp.path("bzImage"));
    otherVm.close();

    expect(r.status).toBe(1);
    expect(r.stderr).toStartWith(`crosvm: --block ${p}: is locked`);
    expect(r.stderr).toContain("lock=false");
    expect(r.stderr.trimEnd().split("\n")).toHaveLength(1);
  });
});

describe("crosvm run refuses a bad --scsi-block in one line, naming that option", () => {
  test("a missing image", () => {
    const p = tmp.path("scsi.img");
    const r = crosvmRun("--scsi-block", p, tmp.path("bzImage"));
    expect(r).toEqual({
      status: 1,
      stderr: `crosvm: --scsi-block ${p}: cannot open: No such file or directory\n`,
    });
  });

  test("one writable image given to --block and --scsi-block conflicts on its lock", () => {
    const p = tmp.path("both.img");
    writeFileSync(p, new Uint8Array(1 << 20));

    const r = crosvmRun("--block", p, "--scsi-block", p, tmp.path("bzImage"));

    expect(r.status).toBe(1);
    expect(r.stderr).toStartWith(`crosvm: --scsi-block ${p}: is locked`);
  });
});
