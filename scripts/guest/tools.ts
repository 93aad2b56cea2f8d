// Small helper programs the e2e tests run in the guest where busybox has no applet for the job, built from
// scripts/guest/tools/*.c with the host's gcc as freestanding static binaries (no libc needed) and put in the
// guest initramfs's /usr/bin under the source's name with "-" for "_" (evdev_absinfo.c -> evdev-absinfo).
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { CpioEntry } from "./cpio.ts";
import { guestSourceDir } from "./paths.ts";
import { run } from "./run.ts";

export const toolsDir = join(guestSourceDir, "tools");

export async function guestToolEntries(): Promise<CpioEntry[]> {
  const out = mkdtempSync(join(tmpdir(), "crosvm-guest-tools-"));
  try {
    const entries: CpioEntry[] = [];
    for (const source of readdirSync(toolsDir)
      .filter((f) => f.endsWith(".c"))
      .sort()) {
      const name = source.slice(0, -2).replaceAll("_", "-");
      const binary = join(out, name);
      run([
        "gcc",
        ...[
          "-Os",
          "-static",
          "-nostdlib",
          "-ffreestanding",
          "-fno-builtin",
          "-fno-tree-loop-distribute-patterns",
          "-fno-stack-protector",
          "-fno-pie",
          "-no-pie",
          "-fno-asynchronous-unwind-tables",
        ],
        ...["-o", binary, join(toolsDir, source)],
      ]);
      entries.push({
        kind: "file",
        path: `usr/bin/${name}`,
        data: await Bun.file(binary).bytes(),
        mode: 0o755,
      });
    }
    return entries;
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}
