// file-churn (scripts/guest/tools/file_churn.c), the small-file phases of bench/fs, built as the guest image
// builds it (guestToolEntries: freestanding, static) and run on this host in a temporary directory.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { guestToolEntries } from "../../../scripts/guest/tools.ts";

describe("file-churn", () => {
  let work: string;
  let tool: string;

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), "file-churn-test-"));
    const entry = (await guestToolEntries()).find((e) => e.path === "usr/bin/file-churn");
    if (entry?.kind !== "file") throw new Error("guestToolEntries built no usr/bin/file-churn");
    tool = join(work, "file-churn");
    writeFileSync(tool, entry.data);
    chmodSync(tool, 0o755);
  }, 60_000);

  afterAll(() => rmSync(work, { recursive: true, force: true }));

  const churn = (...args: string[]) => {
    const p = Bun.spawnSync([tool, ...args], { stdout: "pipe" });
    return { exitCode: p.exitCode, stdout: p.stdout.toString() };
  };

  function freshDir(name: string): string {
    const dir = join(work, name);
    mkdirSync(dir);
    return dir;
  }

  test("create makes COUNT files f0..fN-1 and prints the phase, the count and nanoseconds", () => {
    const dir = freshDir("create");

    const r = churn("create", dir, "3");

    expect(r.exitCode).toBe(0);
    expect(r.stdout).toMatch(/^create 3 \d+\n$/);
    expect(readdirSync(dir).sort()).toEqual(["f0", "f1", "f2"]);
  });

  test("unlink removes the files create made", () => {
    const dir = freshDir("unlink");
    churn("create", dir, "12");

    const r = churn("unlink", dir, "12");

    expect(r.exitCode).toBe(0);
    expect(readdirSync(dir)).toEqual([]);
  });

  test("stat of a file that is not there fails naming the file and the errno", () => {
    const dir = freshDir("stat");
    churn("create", dir, "2");

    const r = churn("stat", dir, "3");

    expect(r.exitCode).toBe(1);
    expect(r.stdout).toBe("file-churn: stat of f2 failed with errno 2\n");
  });

  test("a count above 10000000 is refused with the usage line", () => {
    const dir = freshDir("big");

    const r = churn("create", dir, "10000001");

    expect(r.exitCode).toBe(2);
    expect(r.stdout).toContain("usage: file-churn");
    expect(existsSync(join(dir, "f0"))).toBe(false);
  });
});
