// Temp directories and qemu-img helpers for the disk tests.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export function tempDir(): { dir: string; path: (name: string) => string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), "crosvm-ts-disk-"));
  return {
    dir,
    path: (name) => join(dir, name),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** Whether Debian's qemu-utils (the reference qcow2 implementation) is installed. */
export const hasQemuImg = Bun.which("qemu-img") !== null;

export function qemuImg(...args: string[]): { code: number; out: string } {
  const p = Bun.spawnSync(["qemu-img", ...args], { stdout: "pipe", stderr: "pipe" });
  return { code: p.exitCode, out: p.stdout.toString() + p.stderr.toString() };
}

/** Deterministic bytes for a write, different per seed. */
export function pattern(length: number, seed: number): Uint8Array<ArrayBuffer> {
  const b = new Uint8Array(length);
  let x = seed * 2654435761 + 1;
  for (let i = 0; i < length; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    b[i] = x >>> 24;
  }
  return b;
}
