// Issue 13 item 4 end to end: virtio-pmem with Debian's virtio_pmem and nd_pmem drivers. One guest boots from a
// read-only pmem root (--pmem rootfs.ext4,root,ro: root=/dev/pmem0 ro, the initramfs switch_roots into it) with a
// writable ext4 pmem data device beside it (/dev/pmem1), mounted with -o dax; the host checks the files after
// poweroff. Images are made here with e2fsprogs and live in the outer VM's tmpfs during the boot (block_support.ts).
// Run alone: bun test test/e2e/pmem.test.ts
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { readFileSync, rmSync } from "node:fs";
import { ROOTFS_MARKER, buildRootfsImage } from "../../scripts/guest/rootfs_image.ts";
import { host, VmmHost } from "./block_support.ts";
import { BOOT_HOOK_TIMEOUT_MS } from "./harness/boot_retry.ts";
import { endTestFile, TestVm, vmmExecutablePath } from "./harness/test_vm.ts";

const EXEC = { timeoutMs: 60_000 };
const MiB = 1024 * 1024;

const ROOTFS = "rootfs.ext4";
const DATA = "pmem-data.ext4";
const QCOW = "pmem.qcow2";
/** The last 4 KiB block of the 32 MiB root image: the read-only test writes there (ext4 leaves it unused). */
const ROOT_PROBE_BLOCK = (32 * MiB) / 4096 - 1;
/** virtio 1.2 section 4.1.2.1: PCI device ID 0x1040 + 27 for virtio-pmem. */
const PMEM_PCI_ID = "1af4:105b";

setDefaultTimeout(120_000);
afterAll(endTestFile, 60_000);

const sha256 = (bytes: Uint8Array) => new Bun.CryptoHasher("sha256").update(bytes).digest("hex");

describe("a guest with a read-only pmem root and a writable ext4 pmem device", () => {
  let vm: TestVm;
  let disks: VmmHost;
  let rootShaBefore = "";
  let poweroffStatus: number | undefined;
  let guestFileSha = "";

  beforeAll(async () => {
    const prepare = async () => {
      disks = await VmmHost.open("crosvm");
      buildRootfsImage(disks.hostPath(ROOTFS));
      rootShaBefore = sha256(readFileSync(disks.hostPath(ROOTFS)));
      const data = disks.hostPath(DATA);
      rmSync(data, { force: true });
      // 64 MiB + 1 page: the device is padded to 66 MiB, so the guest also sees the anonymous padding.
      host(["truncate", "-s", `${64 * MiB + 4096}`, data]);
      host(["mkfs.ext4", "-q", "-F", "-b", "4096", "-E", "root_owner=0:0", data, "16384"]);
      rmSync(disks.hostPath(QCOW), { force: true });
      host(["qemu-img", "create", "-q", "-f", "qcow2", disks.hostPath(QCOW), "16M"]);
      for (const name of [ROOTFS, DATA, QCOW]) await disks.importImage(name);
    };
    await prepare();
    vm = await TestVm.boot({
      cmdline: "quiet",
      beforeAttempt: async () => {
        if ((await VmmHost.open("crosvm")).hostDir !== disks.hostDir) await prepare();
      },
      vmmArgs: [...["--pmem", `${disks.vmmPath(ROOTFS)},root,ro`], ...["--pmem", disks.vmmPath(DATA)]],
    });
  }, BOOT_HOOK_TIMEOUT_MS);

  afterAll(async () => {
    await vm?.stop();
    await disks?.clean().catch(() => {});
  }, 60_000);

  test("the kernel gets root=/dev/pmem0 ro and runs /sbin/init from the read-only pmem device", async () => {
    const { stdout } = await vm.exec(
      "cat /proc/cmdline; cat /etc/crosvm-rootfs; grep ' / ' /proc/mounts",
      EXEC,
    );

    expect(stdout).toContain("root=/dev/pmem0 ro");
    expect(stdout).toContain("root disk\n");
    expect(stdout).toMatch(/^\/dev\/pmem0 \/ ext4 ro/m);
    expect(vm.console).toContain(ROOTFS_MARKER);
  });

  test("both devices are virtio-pmem PCI functions (1af4:105b)", async () => {
    const { stdout } = await vm.exec(
      'for d in /sys/bus/pci/devices/*; do echo "$(cut -c3- $d/vendor):$(cut -c3- $d/device)"; done',
      EXEC,
    );

    expect(stdout.split("\n").filter((l) => l === PMEM_PCI_ID)).toHaveLength(2);
  });

  test("/dev/pmem1 is the file's size rounded up to 2 MiB and supports DAX", async () => {
    const { stdout } = await vm.exec("cat /sys/block/pmem1/size /sys/block/pmem1/queue/dax", EXEC);

    expect(stdout.trim().split("\n")).toEqual([`${(66 * MiB) / 512}`, "1"]);
  });

  test("ext4 on /dev/pmem1 mounts with -o dax", async () => {
    const { stdout, stderr, exitCode } = await vm.exec(
      "mkdir -p /tmp/data && mount -t ext4 -o dax /dev/pmem1 /tmp/data && grep ' /tmp/data ' /proc/mounts" +
        " || { dmesg | tail -n 20; exit 1; }",
      EXEC,
    );

    // On failure the guest's mount error and last kernel lines show in the diff.
    expect({ exitCode, stderr, stdout: exitCode === 0 ? "" : stdout }).toEqual({
      exitCode: 0,
      stderr: "",
      stdout: "",
    });
    expect(stdout).toMatch(/^\/dev\/pmem1 \/tmp\/data ext4 rw,.*dax/m);
  });

  test("a file written and fsynced on the DAX mount completes its flushes", async () => {
    const script = [
      "dd if=/dev/urandom of=/tmp/data/f bs=1M count=8 conv=fsync 2> /dev/null",
      "sync",
      "sha256sum /tmp/data/f",
    ].join(" && ");

    const result = await vm.exec(script, EXEC);
    guestFileSha = result.stdout.split(" ")[0] ?? "";

    expect(result.exitCode).toBe(0);
    expect(guestFileSha).toMatch(/^[0-9a-f]{64}$/);
  });

  test("a guest write to the read-only device does not change what the device holds", async () => {
    const block = `bs=4096 count=1 skip=${ROOT_PROBE_BLOCK}`;
    const script = [
      `before=$(dd if=/dev/pmem0 ${block} 2> /dev/null | sha256sum)`,
      `dd if=/dev/urandom of=/dev/pmem0 bs=4096 count=1 seek=${ROOT_PROBE_BLOCK} conv=fsync 2> /dev/null`,
      "echo 3 > /proc/sys/vm/drop_caches",
      `after=$(dd if=/dev/pmem0 ${block} 2> /dev/null | sha256sum)`,
      'echo "$before"; echo "$after"',
    ].join("; ");

    const { stdout } = await vm.exec(script, EXEC);
    const [before, after] = stdout.trim().split("\n");

    expect(after).toBe(before!);
  });

  test("a second VMM given a qcow2 image as --pmem refuses it in one line", async () => {
    const qcow = disks.vmmPath(QCOW);

    const out = await disks.run(
      `timeout 60 ${vmmExecutablePath("crosvm")} run -m 64 --pmem ${qcow} /nonexistent-kernel 2>&1; echo "status=$?"`,
    );

    expect(out).toContain(
      `--pmem ${qcow}: is a qcow2 image; a pmem device maps the file as it is, so it must be raw`,
    );
    expect(out).toContain("status=1");
  });

  test("guest poweroff ends the VMM with status 0", async () => {
    await vm.exec("umount /tmp/data && sync", EXEC);
    await vm.poweroff();
    poweroffStatus = await vm.waitForExit(60_000);
    for (const name of [ROOTFS, DATA]) await disks.exportImage(name);

    expect(poweroffStatus).toBe(0);
  }, 180_000);

  test("the file's checksum in the ext4 image on the host matches the guest's", () => {
    const dumped = `${disks.hostDir}/pmem-f.dumped`;
    host(["debugfs", "-R", `dump /f ${dumped}`, disks.hostPath(DATA)]);

    const bytes = readFileSync(dumped);

    expect(bytes.length).toBe(8 * MiB);
    expect(sha256(bytes)).toBe(guestFileSha);
  });

  test("the data image keeps its size: the padding the guest saw is not the file's", () => {
    expect(readFileSync(disks.hostPath(DATA)).length).toBe(64 * MiB + 4096);
  });

  test("the read-only root image is unchanged on the host", () => {
    expect(sha256(readFileSync(disks.hostPath(ROOTFS)))).toBe(rootShaBefore);
  });
});
