// An ext4 image holding Debian's fio with every shared library it loads (as ldd lists them) and the dynamic
// loader, so a busybox guest runs the host's fio as `/mnt/fio/run ARGS` without a Debian root file system.
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { host } from "./block_support.ts";

const FIO = "/usr/bin/fio";

/** The files ldd names for `binary`: its libraries and the dynamic loader (absolute paths). */
function sharedObjects(binary: string): string[] {
  return host(["ldd", binary])
    .split("\n")
    .map((line) => line.match(/=> (\/\S+)/)?.[1] ?? line.match(/^\s*(\/\S+ld-linux\S*)/)?.[1])
    .filter((p): p is string => p !== undefined);
}

/** Writes the image to `path`; throws naming the package when fio is not installed (scripts/setup.sh installs it). */
export function buildFioImage(path: string): void {
  try {
    statSync(FIO);
  } catch {
    throw new Error(`${FIO} is missing: install Debian's fio package (bash scripts/setup.sh does)`);
  }
  const dir = mkdtempSync(join(tmpdir(), "crosvm-fio-image-"));
  try {
    mkdirSync(join(dir, "lib"));
    copyFileSync(FIO, join(dir, "fio"));
    for (const so of sharedObjects(FIO)) copyFileSync(so, join(dir, "lib", basename(so)));
    const loader = sharedObjects(FIO).find((p) => basename(p).startsWith("ld-linux"));
    if (!loader) throw new Error(`ldd ${FIO} names no dynamic loader`);
    writeFileSync(
      join(dir, "run"),
      `#!/bin/sh\nd=$(dirname "$0")\nexec "$d/lib/${basename(loader)}" --library-path "$d/lib" "$d/fio" "$@"\n`,
      { mode: 0o755 },
    );
    rmSync(path, { force: true });
    // The files plus a fifth for ext4's own blocks (the image is copied whole into the rig's RAM).
    const contentKiB = Number(host(["du", "-sk", dir]).split("\t")[0]);
    host([
      "mkfs.ext4",
      "-q",
      "-F",
      "-d",
      dir,
      "-E",
      "root_owner=0:0",
      path,
      `${Math.ceil(contentKiB * 1.2 + 4096)}K`,
    ]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
