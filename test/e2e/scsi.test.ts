// virtio-scsi end to end (issue 14 item 8): Debian's virtio_scsi and sd_mod on our controller. The first guest
// gets two --scsi-block disks: a blank writable one it makes a file system on, fills and reads back, and a
// read-only one it must not write. The host then finds the guest's file in the image. The second guest boots with
// its root on a --scsi-block disk (root=/dev/sda). Images live where the VMM runs (block_support.ts).
// Disk i is target i; Linux's sd driver probes disks asynchronously, so with two disks which one becomes sda is not
// fixed: the tests find each disk's name from its SCSI address (host:0:target:0) in sysfs.
// Run alone: bun test test/e2e/scsi.test.ts
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { ROOTFS_MARKER, buildRootfsImage } from "../../scripts/guest/rootfs_image.ts";
import { host, VmmHost } from "./block_support.ts";
import { BOOT_HOOK_TIMEOUT_MS } from "./harness/boot_retry.ts";
import { endTestFile, TestVm } from "./harness/test_vm.ts";

const EXEC = { timeoutMs: 90_000 };
const MiB = 1024 * 1024;
const DATA = "scsi-data.img";
const RO = "scsi-ro.img";
const ROOTFS = "scsi-rootfs.ext4";
const RO_MARKER = "crosvm-e2e-scsi-read-only";

setDefaultTimeout(120_000);
afterAll(endTestFile, 60_000);

describe("a guest with a writable and a read-only --scsi-block disk", () => {
  let vm: TestVm;
  let disks: VmmHost;
  let guestSha = "";
  /** The guest's names of target 0 (the writable disk) and target 1 (the read-only one). */
  let data = "";
  let ro = "";

  beforeAll(async () => {
    const prepare = async () => {
      disks = await VmmHost.open("crosvm");
      const data = disks.hostPath(DATA);
      rmSync(data, { force: true });
      host(["truncate", "-s", "64M", data]);
      const ro = new Uint8Array(4 * MiB);
      ro.set(new TextEncoder().encode(RO_MARKER));
      writeFileSync(disks.hostPath(RO), ro);
      for (const name of [DATA, RO]) await disks.importImage(name);
    };
    await prepare();
    vm = await TestVm.boot({
      cmdline: "quiet",
      beforeAttempt: async () => {
        if ((await VmmHost.open("crosvm")).hostDir !== disks.hostDir) await prepare();
      },
      vmmArgs: [...["--scsi-block", disks.vmmPath(DATA)], ...["--scsi-block", `${disks.vmmPath(RO)},ro`]],
    });
  }, BOOT_HOOK_TIMEOUT_MS);

  afterAll(async () => {
    await vm?.stop();
    await disks?.clean().catch(() => {});
  }, 60_000);

  test("the guest sees /dev/sda and /dev/sdb: targets 0 and 1, CROSVM disks of the images' sizes", async () => {
    const { stdout } = await vm.exec(
      "for t in 0 1; do d=$(ls /sys/bus/scsi/devices/*:0:$t:0/block/); " +
        "echo $d $(cat /sys/block/$d/device/vendor) $(cat /sys/block/$d/size); done",
      EXEC,
    );
    const lines = stdout.trim().split("\n");
    const names = lines.map((l) => l.split(" ")[0] ?? "");
    data = names[0] ?? "";
    ro = names[1] ?? "";

    expect([data, ro].sort()).toEqual(["sda", "sdb"]);
    expect(lines).toEqual([`${data} CROSVM 131072`, `${ro} CROSVM 8192`]);
  });

  test("a file system made on the writable disk round-trips a file through the disk with the same checksum", async () => {
    const script = [
      `mke2fs -q /dev/${data} > /dev/null 2>&1`,
      `mkdir -p /mnt/scsi && mount /dev/${data} /mnt/scsi`,
      "dd if=/dev/urandom of=/mnt/scsi/f bs=1M count=8 2> /dev/null",
      "sync",
      "a=$(sha256sum < /mnt/scsi/f)",
      "umount /mnt/scsi",
      "echo 3 > /proc/sys/vm/drop_caches",
      `mount /dev/${data} /mnt/scsi`,
      "b=$(sha256sum < /mnt/scsi/f)",
      'echo "$a"',
      '[ "$a" = "$b" ]',
    ].join(" && ");

    const result = await vm.exec(script, EXEC);
    guestSha = result.stdout.trim().split("\n").at(-1)?.split(" ")[0] ?? "";

    expect(result.exitCode).toBe(0);
    expect(guestSha).toMatch(/^[0-9a-f]{64}$/);
  });

  test("the read-only disk reads its contents and refuses writes", async () => {
    const { stdout } = await vm.exec(
      `cat /sys/block/${ro}/ro; head -c ${RO_MARKER.length} /dev/${ro}; echo; echo x | dd of=/dev/${ro} conv=fsync 2>&1; echo "dd=$?"`,
      EXEC,
    );

    const [roFlag, marker] = stdout.split("\n");
    expect(roFlag).toBe("1");
    expect(marker).toBe(RO_MARKER);
    expect(stdout).toMatch(/dd=[1-9]/);
  });

  test("guest poweroff ends the VMM with status 0 and the file is in the host's image", async () => {
    await vm.exec("umount /mnt/scsi && sync", EXEC);
    await vm.poweroff();
    const status = await vm.waitForExit(60_000);
    await disks.exportImage(DATA);
    const dumped = `${disks.hostDir}/f.dumped`;
    host(["debugfs", "-R", `dump /f ${dumped}`, disks.hostPath(DATA)]);

    const bytes = readFileSync(dumped);

    expect(status).toBe(0);
    expect(bytes.length).toBe(8 * MiB);
    expect(new Bun.CryptoHasher("sha256").update(bytes).digest("hex")).toBe(guestSha);
  }, 180_000);
});

describe("a guest whose root is a --scsi-block disk", () => {
  let vm: TestVm;
  let disks: VmmHost;

  beforeAll(async () => {
    const prepare = async () => {
      disks = await VmmHost.open("crosvm");
      buildRootfsImage(disks.hostPath(ROOTFS));
      await disks.importImage(ROOTFS);
    };
    await prepare();
    vm = await TestVm.boot({
      cmdline: "quiet",
      beforeAttempt: async () => {
        if ((await VmmHost.open("crosvm")).hostDir !== disks.hostDir) await prepare();
      },
      vmmArgs: ["--scsi-block", `${disks.vmmPath(ROOTFS)},root`],
    });
  }, BOOT_HOOK_TIMEOUT_MS);

  afterAll(async () => {
    await vm?.stop();
    await disks?.clean().catch(() => {});
  }, 60_000);

  test("the kernel gets root=/dev/sda rw and runs /sbin/init from that disk", async () => {
    const { stdout } = await vm.exec(
      "cat /proc/cmdline; cat /etc/crosvm-rootfs; grep ' / ' /proc/mounts",
      EXEC,
    );

    expect(stdout).toContain("root=/dev/sda rw");
    expect(stdout).toContain("root disk\n");
    expect(stdout).toMatch(/^\/dev\/sda \/ ext4 rw/m);
    expect(vm.console).toContain(ROOTFS_MARKER);
  });
});
