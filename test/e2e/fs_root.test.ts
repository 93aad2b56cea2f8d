// Issue 12 item 4: a guest whose root file system is a virtio-fs shared directory (crosvm book, "Running VirtioFS
// as root filesystem": --shared-dir "DIR:TAG:type=fs:cache=always" -p "rootfstype=virtiofs root=TAG"). The
// initramfs loads Debian's virtiofs module, mounts the tag and switch_roots into its /sbin/init. One boot.
// Run alone: bun test test/e2e/fs_root.test.ts
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdirSync, rmSync } from "node:fs";
import { ROOTFS_MARKER, buildRootfsDir } from "../../scripts/guest/rootfs_image.ts";
import { VmmHost } from "./block_support.ts";
import { BOOT_HOOK_TIMEOUT_MS } from "./harness/boot_retry.ts";
import { endTestFile, TestVm } from "./harness/test_vm.ts";

const EXEC = { timeoutMs: 60_000 };
const TAG = "mtdfake";
const ROOT = "fsroot";
const MARKER = "virtio-fs root\n";

setDefaultTimeout(120_000);
afterAll(endTestFile, 60_000);

describe("a guest booted from a virtio-fs root", () => {
  let vm: TestVm;
  let where: VmmHost;

  beforeAll(async () => {
    const prepare = async () => {
      where = await VmmHost.open("crosvm");
      const stage = where.hostPath(ROOT);
      rmSync(stage, { recursive: true, force: true });
      mkdirSync(stage, { recursive: true });
      buildRootfsDir(stage, MARKER);
      if (where.workDir !== where.scratchVmmDir)
        await where.run(
          `rm -rf ${where.vmmPath(ROOT)} && cp -a ${where.scratchVmmDir}/${ROOT} ${where.vmmPath(ROOT)}`,
        );
    };
    await prepare();
    vm = await TestVm.boot({
      cmdline: `quiet rootfstype=virtiofs root=${TAG} rw`,
      beforeAttempt: async () => {
        if ((await VmmHost.open("crosvm")).hostDir !== where.hostDir) await prepare();
      },
      vmmArgs: ["--shared-dir", `${where.vmmPath(ROOT)}:${TAG}:type=fs:cache=always`],
    });
  }, BOOT_HOOK_TIMEOUT_MS);

  afterAll(async () => {
    await vm?.stop();
    await where?.run(`rm -rf ${where.vmmPath(ROOT)}`).catch(() => {});
    rmSync(where?.hostPath(ROOT) ?? "/nonexistent", { recursive: true, force: true });
  }, 60_000);

  test("/ is the virtiofs tag and init ran from it", async () => {
    const { stdout } = await vm.exec("grep ' / ' /proc/mounts; cat /etc/crosvm-rootfs", EXEC);

    expect(stdout).toMatch(new RegExp(`^${TAG} / virtiofs rw`, "m"));
    expect(stdout).toContain(MARKER);
    expect(vm.console).toContain(ROOTFS_MARKER);
  });

  test("a file written in the guest's root appears in the host directory", async () => {
    const guest = await vm.exec("echo made-in-guest > /root-note && sync", EXEC);

    const host = await where.run(`cat ${where.vmmPath(ROOT)}/root-note`);
    expect(guest.exitCode).toBe(0);
    expect(host).toBe("made-in-guest\n");
  });
});
