// Issue 4 end to end: Debian's virtio drivers on our virtio-pci devices. One guest boots from a root disk
// (--block rootfs.ext4,root: the initramfs loads virtio_blk and switch_roots, as Debian's does) with more disks
// (among them a host block device: a loop device made where the VMM runs), a virtio-console port and virtio-rng; each test checks one behaviour, and the host checks the images after
// poweroff. Images are made here with e2fsprogs and qemu-utils and live in the outer VM's tmpfs during the boot
// (block_support.ts). Run alone: bun test test/e2e/block.test.ts
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { ROOTFS_MARKER, buildRootfsImage } from "../../scripts/guest/rootfs_image.ts";
import { host, VmmHost } from "./block_support.ts";
import { buildFioImage } from "./fio_image.ts";
import { endTestFile, TestVm, vmmExecutablePath } from "./harness/test_vm.ts";
import { BOOT_HOOK_TIMEOUT_MS } from "./harness/boot_retry.ts";

const EXEC = { timeoutMs: 60_000 };
const MiB = 1024 * 1024;

const ROOTFS = "rootfs.ext4";
const DATA = "data.ext4";
const RO = "ro.img";
const QCOW = "disk.qcow2";
const FIO_TOOLS = "fio.ext4";
/** The backing file of a loop device made where the VMM runs: a host block device given as --block. */
const LOOP_BACKING = "loop.img";
const LOOP_MARKER = "crosvm-e2e-host-block-device";
const HVC_OUT = "hvc0.out";
const HVC_IN = "hvc0.in";
const DATA_ID = "crosvm-e2e-data-0001";
const RO_MARKER = "crosvm-e2e-read-only-disk";
const HVC_INPUT = "host-to-hvc0-line";

setDefaultTimeout(120_000);
afterAll(endTestFile, 60_000);

describe("a guest with a root disk, an ext4 data disk, a read-only disk, a qcow2 disk, hvc0 and virtio-rng", () => {
  let vm: TestVm;
  let disks: VmmHost;
  /** Host-side results gathered after poweroff. */
  let poweroffStatus: number | undefined;
  let guestFileSha = "";
  let guestQcowSha = "";
  let blocksBeforeTrim = 0;
  let blocksAfterTrim = 0;
  /** The loop device (e.g. /dev/loop0) over LOOP_BACKING where the VMM runs. */
  let loopDevice = "";

  beforeAll(async () => {
    // Made before each boot attempt too when a retry runs on a new rig (which has its own scratch folder and /tmp).
    const prepare = async () => {
      disks = await VmmHost.open("crosvm");
      buildRootfsImage(disks.hostPath(ROOTFS));
      const data = disks.hostPath(DATA);
      rmSync(data, { force: true });
      host(["truncate", "-s", "64M", data]);
      host(["mkfs.ext4", "-q", "-F", "-b", "4096", "-E", "root_owner=0:0", data]);
      const ro = new Uint8Array(4 * MiB);
      ro.set(new TextEncoder().encode(RO_MARKER));
      writeFileSync(disks.hostPath(RO), ro);
      rmSync(disks.hostPath(QCOW), { force: true });
      host(["qemu-img", "create", "-q", "-f", "qcow2", disks.hostPath(QCOW), "16M"]);
      buildFioImage(disks.hostPath(FIO_TOOLS));
      const loop = new Uint8Array(8 * MiB);
      loop.set(new TextEncoder().encode(LOOP_MARKER));
      writeFileSync(disks.hostPath(LOOP_BACKING), loop);
      for (const name of [ROOTFS, DATA, RO, QCOW, FIO_TOOLS, LOOP_BACKING]) await disks.importImage(name);
      loopDevice = (
        await disks.run(`d=$(losetup -f) && losetup $d ${disks.vmmPath(LOOP_BACKING)} && echo $d`)
      ).trim();
      // hvc0's input is a FIFO the test writes to once the guest runs (as a user would type): Linux's
      // virtio_console drops what arrives before its port is set up (add_port fills the receive queue before it
      // lists the port, and in_intr discards buffers for an unlisted port). A writer held open keeps it from EOF.
      await disks.run(
        `rm -f ${disks.vmmPath(HVC_IN)} && mkfifo ${disks.vmmPath(HVC_IN)} && ` +
          `{ sleep 3600 > ${disks.vmmPath(HVC_IN)} < /dev/null 2> /dev/null & echo $! > ${disks.vmmPath("fifo.pid")}; }`,
      );
    };
    await prepare();
    vm = await TestVm.boot({
      cmdline: "quiet",
      beforeAttempt: async () => {
        if ((await VmmHost.open("crosvm")).hostDir !== disks.hostDir) await prepare();
      },
      vmmArgs: [
        ...["--block", `${disks.vmmPath(ROOTFS)},root`],
        ...["--block", `${disks.vmmPath(DATA)},block-size=4096,id=${DATA_ID}`],
        ...["--block", `${disks.vmmPath(RO)},ro`],
        ...["--block", disks.vmmPath(QCOW)],
        ...["--block", `${disks.vmmPath(FIO_TOOLS)},ro`],
        ...["--block", loopDevice],
        ...[
          "--serial",
          `type=file,hardware=virtio-console,num=1,path=${disks.vmmPath(HVC_OUT)},input=${disks.vmmPath(HVC_IN)}`,
        ],
      ],
    });
  }, BOOT_HOOK_TIMEOUT_MS);

  afterAll(async () => {
    await vm?.stop();
    await disks?.run(`kill $(cat ${disks.vmmPath("fifo.pid")})`).catch(() => {});
    if (loopDevice) await disks?.run(`losetup -d ${loopDevice}`).catch(() => {});
    await disks?.clean().catch(() => {});
  }, 60_000);

  test("the kernel gets root=/dev/vda and runs /sbin/init from that disk", async () => {
    const { stdout } = await vm.exec(
      "cat /proc/cmdline; cat /etc/crosvm-rootfs; grep ' / ' /proc/mounts",
      EXEC,
    );

    expect(stdout).toContain("root=/dev/vda rw");
    expect(stdout).toContain("root disk\n");
    expect(stdout).toMatch(/^\/dev\/vda \/ ext4 rw/m);
    expect(vm.console).toContain(ROOTFS_MARKER);
  });

  test("lspci -n order: the host bridge at 00:00.0, then the disks, the console, rng and the balloon", async () => {
    // Debian's busybox-static has no lspci applet: print what `lspci -n` prints (slot, class, vendor:device)
    // from the same sysfs attributes, in slot order.
    const script = [
      "for d in /sys/bus/pci/devices/*; do",
      '  echo "${d##*/} $(cut -c3-6 $d/class) $(cut -c3- $d/vendor):$(cut -c3- $d/device)"',
      "done",
    ].join("\n");

    const { stdout } = await vm.exec(script, EXEC);

    expect(stdout.trim().split("\n")).toEqual([
      "0000:00:00.0 0600 8086:1237",
      "0000:00:01.0 0180 1af4:1042",
      "0000:00:02.0 0180 1af4:1042",
      "0000:00:03.0 0180 1af4:1042",
      "0000:00:04.0 0180 1af4:1042",
      "0000:00:05.0 0180 1af4:1042",
      "0000:00:06.0 0180 1af4:1042",
      "0000:00:07.0 0780 1af4:1043",
      "0000:00:08.0 ff00 1af4:1044",
      "0000:00:09.0 0880 1af4:1045",
    ]);
  });

  test("id= appears as /sys/block/vdb/serial", async () => {
    const { stdout } = await vm.exec("cat /sys/block/vdb/serial", EXEC);

    expect(stdout.trim()).toBe(DATA_ID);
  });

  test("block-size=4096 shows in /sys/block/vdb/queue/logical_block_size", async () => {
    const { stdout } = await vm.exec("cat /sys/block/vdb/queue/logical_block_size", EXEC);

    expect(stdout.trim()).toBe("4096");
  });

  test("a 10 MB file written to ext4 on /dev/vdb is synced", async () => {
    const script = [
      "mkdir -p /mnt/data && mount -t ext4 /dev/vdb /mnt/data",
      "dd if=/dev/urandom of=/mnt/data/f bs=1M count=10 2> /dev/null",
      "sync",
      "sha256sum /mnt/data/f",
    ].join(" && ");

    const result = await vm.exec(script, EXEC);
    guestFileSha = result.stdout.split(" ")[0] ?? "";

    expect(result.exitCode).toBe(0);
    expect(guestFileSha).toMatch(/^[0-9a-f]{64}$/);
  });

  test("fstrim after deleting a file shrinks the image's allocated blocks on the host", async () => {
    const fill =
      "dd if=/dev/urandom of=/mnt/data/junk bs=1M count=24 2> /dev/null && sync && rm /mnt/data/junk && sync";
    expect((await vm.exec(fill, EXEC)).exitCode).toBe(0);
    blocksBeforeTrim = await disks.allocatedBlocks(DATA);

    const trim = await vm.exec("fstrim -v /mnt/data", EXEC);
    blocksAfterTrim = await disks.allocatedBlocks(DATA);

    expect(trim.exitCode).toBe(0);
    // At least the deleted 24 MiB must be given back (512-byte blocks).
    expect(blocksBeforeTrim - blocksAfterTrim).toBeGreaterThanOrEqual((24 * MiB) / 512);
  });

  test("Debian's fio: random 4 KiB writes at iodepth 32 (O_DIRECT, libaio) on /dev/vdb complete and read back verified", async () => {
    // verify=crc32c with do_verify: after the writes fio reads every block back, also 32 deep, and checks it.
    const fio = [
      "/mnt/fio/run --name=qd32 --filename=/mnt/data/fio.dat --size=16M --bs=4k --rw=randwrite --direct=1",
      "--ioengine=libaio --iodepth=32 --verify=crc32c --do_verify=1 --verify_fatal=1 --verify_state_save=0",
      "--output-format=json",
    ].join(" ");
    const script = `mkdir -p /mnt/fio && mount -o ro /dev/vde /mnt/fio && ${fio}; s=$?; rm -f /mnt/data/fio.dat; exit $s`;

    const result = await vm.exec(script, { timeoutMs: 300_000 });
    const job = JSON.parse(result.stdout.slice(result.stdout.indexOf("{"))).jobs[0];

    expect(result.exitCode).toBe(0);
    expect(job.error).toBe(0);
    expect(job.write.io_kbytes).toBe(16 * 1024);
    expect(job.read.io_kbytes).toBe(16 * 1024);
  }, 320_000);

  test("each raw disk and the host block device keep their requests in flight on an io_uring, the qcow2 disk does not", async () => {
    // Device processes, or the VMM itself in single process mode: nothing else on the VMM's machine uses io_uring.
    const out = await disks.run(
      "ls -l /proc/[0-9]*/fd 2> /dev/null | grep -c 'anon_inode:\\[io_uring\\]'; true",
    );

    expect(Number(out.trim())).toBe(5);
  });

  test("a host block device (a loop device) as --block has the device's size and contents in the guest", async () => {
    const { stdout } = await vm.exec(`cat /sys/block/vdf/size; head -c ${LOOP_MARKER.length} /dev/vdf`, EXEC);

    expect(stdout).toBe(`${(8 * MiB) / 512}\n${LOOP_MARKER}`);
  });

  test("a write to a host block device as --block reaches the device", async () => {
    const guest = await vm.exec(
      "dd if=/dev/urandom of=/tmp/blk bs=4096 count=1 2> /dev/null && " +
        "dd if=/tmp/blk of=/dev/vdf bs=4096 seek=256 oflag=direct conv=fsync 2> /dev/null && sha256sum < /tmp/blk",
      EXEC,
    );

    const onDevice = await disks.run(`dd if=${loopDevice} bs=4096 skip=256 count=1 2> /dev/null | sha256sum`);

    expect(guest.exitCode).toBe(0);
    expect(onDevice.split(" ")[0]).toBe(guest.stdout.split(" ")[0]!);
  });

  test("a read-only disk (ro) refuses writes", async () => {
    const { stdout } = await vm.exec(
      `cat /sys/block/vdc/ro; head -c ${RO_MARKER.length} /dev/vdc; echo; echo x | dd of=/dev/vdc conv=fsync 2>&1; echo "dd=$?"`,
      EXEC,
    );

    const [roFlag, marker] = stdout.split("\n");
    expect(roFlag).toBe("1");
    expect(marker).toBe(RO_MARKER);
    expect(stdout).toMatch(/dd=[1-9]/);
  });

  test("writes to a qcow2 disk read back in the guest", async () => {
    const script = [
      "dd if=/dev/urandom of=/tmp/pattern bs=1M count=4 2> /dev/null",
      "dd if=/tmp/pattern of=/dev/vdd bs=1M seek=2 oflag=direct conv=fsync 2> /dev/null",
      "echo 3 > /proc/sys/vm/drop_caches",
      "a=$(sha256sum < /tmp/pattern)",
      "b=$(dd if=/dev/vdd bs=1M skip=2 count=4 iflag=direct 2> /dev/null | sha256sum)",
      'echo "$a"; [ "$a" = "$b" ]',
    ].join(" && ");

    const result = await vm.exec(script, EXEC);
    guestQcowSha = result.stdout.split(" ")[0] ?? "";

    expect(result.exitCode).toBe(0);
  });

  test("a second VMM given the running guest's writable data image refuses it in one line", async () => {
    const data = disks.vmmPath(DATA);
    // The kernel path is never reached: every --block is checked (and locked) before anything else starts.
    const out = await disks.run(
      `${vmmExecutablePath("crosvm")} run --block ${data} /nonexistent-kernel 2>&1; echo "status=$?"`,
    );

    expect(out).toContain(`--block ${data}: is locked`);
    expect(out).toContain("status=1");
  });

  test("/dev/hwrng gives bytes from virtio-rng", async () => {
    const { stdout } = await vm.exec(
      "cat /sys/class/misc/hw_random/rng_current; head -c 4096 /dev/hwrng | wc -c",
      EXEC,
    );

    expect(stdout).toMatch(/^virtio_rng/);
    expect(stdout.trim().split("\n").at(-1)).toBe("4096");
  });

  test("hvc0 carries guest output to the --serial file", async () => {
    await vm.exec("echo guest-to-hvc0-line > /dev/hvc0", EXEC);

    const out = await disks.run(`cat ${disks.vmmPath(HVC_OUT)}`);

    expect(out).toContain("guest-to-hvc0-line");
  });

  test("hvc0 delivers what the host writes to the --serial input to the guest", async () => {
    const reading = vm.exec("timeout 20 head -n 1 /dev/hvc0", EXEC);
    await Bun.sleep(2000);
    await disks.run(`echo ${HVC_INPUT} > ${disks.vmmPath(HVC_IN)}`);

    const { stdout } = await reading;

    expect(stdout.trim()).toBe(HVC_INPUT);
  });

  test("guest poweroff ends the VMM with status 0", async () => {
    await vm.exec("umount /mnt/data && sync", EXEC);
    await vm.poweroff();
    poweroffStatus = await vm.waitForExit(60_000);
    for (const name of [DATA, QCOW]) await disks.exportImage(name);

    expect(poweroffStatus).toBe(0);
  }, 180_000);

  test("the 10 MB file's checksum in the ext4 image on the host matches the guest's", () => {
    const dumped = `${disks.hostDir}/f.dumped`;
    host(["debugfs", "-R", `dump /f ${dumped}`, disks.hostPath(DATA)]);

    const sha = new Bun.CryptoHasher("sha256").update(readFileSync(dumped)).digest("hex");

    expect(readFileSync(dumped).length).toBe(10 * MiB);
    expect(sha).toBe(guestFileSha);
  });

  test("the qcow2 image passes `qemu-img check` and holds the guest's data", () => {
    const check = Bun.spawnSync(["qemu-img", "check", disks.hostPath(QCOW)], {
      stdout: "pipe",
      stderr: "pipe",
    });
    const raw = `${disks.hostDir}/qcow.raw`;
    host(["qemu-img", "convert", "-O", "raw", disks.hostPath(QCOW), raw]);
    const bytes = readFileSync(raw);

    expect(check.exitCode).toBe(0);
    expect(bytes.subarray(0, 2 * MiB).every((b) => b === 0)).toBe(true);
    expect(new Bun.CryptoHasher("sha256").update(bytes.subarray(2 * MiB, 6 * MiB)).digest("hex")).toBe(
      guestQcowSha,
    );
  });
});
