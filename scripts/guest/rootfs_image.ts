// A small ext4 root file system for root-disk tests (`--block rootfs.ext4,root`): busybox with its applet
// links, the guest agent, and an /sbin/init that mounts the kernel file systems, prints ROOTFS_MARKER on the
// console and starts the agent on ttyS1. Built without mounting: `mkfs.ext4 -d` copies a staging folder.
// Usage: bun scripts/guest/rootfs_image.ts OUTPUT.ext4
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { busyboxPath, rootfsDir } from "./initramfs.ts";
import { run } from "./run.ts";

/** Printed on the console by the root file system's init, so a test can tell it ran. */
export const ROOTFS_MARKER = "crosvm-rootfs-init: running from the root disk";

/** The root file system's /sbin/init (busybox sh, PID 1 after the initramfs's switch_root). */
const rootInit = `#!/bin/sh
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /tmp
echo "${ROOTFS_MARKER}" > /dev/console
/sbin/agent /dev/ttyS1 &
while true; do sleep 3600; done
`;

/**
 * Fills `stage` with the root file system: busybox and its applet links, /sbin/init and the agent. An ext4 image
 * is made from it (buildRootfsImage); a virtio-fs root (`--shared-dir DIR:TAG -p "rootfstype=virtiofs root=TAG"`)
 * uses the directory itself.
 */
export function buildRootfsDir(stage: string, marker = "root disk\n"): void {
  for (const dir of ["bin", "sbin", "usr/bin", "usr/sbin", "dev", "proc", "sys", "run", "tmp", "etc"])
    mkdirSync(join(stage, dir), { recursive: true });
  copyFileSync(busyboxPath, join(stage, "bin/busybox"));
  chmodSync(join(stage, "bin/busybox"), 0o755);
  const applets = run([busyboxPath, "--list-full"]).stdout.split("\n");
  for (const applet of applets) {
    if (applet === "" || applet === "bin/busybox" || applet === "sbin/init") continue;
    mkdirSync(dirname(join(stage, applet)), { recursive: true });
    symlinkSync("/bin/busybox", join(stage, applet));
  }
  writeFileSync(join(stage, "sbin/init"), rootInit, { mode: 0o755 });
  copyFileSync(join(rootfsDir, "agent.sh"), join(stage, "sbin/agent"));
  chmodSync(join(stage, "sbin/agent"), 0o755);
  writeFileSync(join(stage, "etc/crosvm-rootfs"), marker);
}

/** Writes an ext4 image of `sizeMiB` holding the root file system to `output`. */
export function buildRootfsImage(output: string, sizeMiB = 32): void {
  const stage = mkdtempSync(join(tmpdir(), "crosvm-rootfs-"));
  try {
    buildRootfsDir(stage);
    rmSync(output, { force: true });
    run(["truncate", "-s", `${sizeMiB}M`, output]);
    run(["mkfs.ext4", "-q", "-F", "-E", "root_owner=0:0", "-d", stage, output]);
  } finally {
    rmSync(stage, { recursive: true, force: true });
  }
}

if (import.meta.main) {
  const output = process.argv[2];
  if (!output) throw new Error("usage: bun scripts/guest/rootfs_image.ts OUTPUT.ext4");
  buildRootfsImage(output);
  console.log(`rootfs: wrote ${output}`);
}
