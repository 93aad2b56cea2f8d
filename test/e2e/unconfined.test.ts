// Single process mode end to end (issue 6, kept within CI's time by issue 15): one guest booted with
// --disable-sandbox and one device of every kind, so each kind's device runs inside the VMM process instead of a
// device process. Each test does one piece of real I/O through one device from the guest (which runs from its
// initramfs, where the guest tools are; block.test.ts boots from a root disk). The per-device files
// (block, scsi, pmem, fs, net with vsock, input, balloon) hold the thorough tests and still run unconfined when asked
// (CROSVM_E2E_DISABLE_SANDBOX=1 bun test test/e2e/net.test.ts).
// This file runs in the check's second pass only: CROSVM_E2E_DISABLE_SANDBOX=1 bun test test/e2e/unconfined.test.ts
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { copyFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { host, VmmHost } from "./block_support.ts";
import { BOOT_HOOK_TIMEOUT_MS } from "./harness/boot_retry.ts";
import { endTestFile, TestVm, vmmExecutablePath } from "./harness/test_vm.ts";
import { controlSocketPath, crosvmControl } from "./harness/vmm_control.ts";
import { startVsockListener } from "./vsock_listener.ts";

const EXEC = { timeoutMs: 90_000 };
const MiB = 1024 * 1024;
const DATA = "unconfined-data.img";
const QCOW = "unconfined.qcow2";
const SCSI = "unconfined-scsi.img";
const PMEM = "unconfined-pmem.img";
const SHARE = "unconfined-share";
const P9_SHARE = "unconfined-p9";
const P9_TAG = "unconfined_p9";
const HVC_OUT = "unconfined-hvc0.out";
const HELPER = "input_host_helper.ts";
const VSOCK_HELPER = "vsock_host_helper.ts";
const GUEST_CID = 5;
const VSOCK_PORT = 7101;
const KEYBOARD_NAME = "Crosvm Virtio Keyboard 0";
const TAG = "unconfined";
const HOST_IP = "192.168.70.1";
const GUEST_IP = "192.168.70.2";
const MAC = "52:54:00:12:34:70";
const EV_KEY = 1;
const KEY_A = 30;

const unconfined = process.env.CROSVM_E2E_DISABLE_SANDBOX === "1";

setDefaultTimeout(180_000);
afterAll(endTestFile, 60_000);

/** Guest shell: writes 4 MiB of random data to block device $1 with O_DIRECT, reads it back, prints both sums. */
const WRITE_READ_BACK =
  "wr() { dd if=/dev/urandom of=/tmp/pattern bs=1M count=4 2> /dev/null && " +
  "dd if=/tmp/pattern of=$1 bs=1M oflag=direct conv=fsync 2> /dev/null && " +
  "sha256sum < /tmp/pattern && dd if=$1 bs=1M count=4 iflag=direct 2> /dev/null | sha256sum; }";

describe.skipIf(!unconfined)("a guest with one device of every kind and --disable-sandbox", () => {
  let vm: TestVm;
  let where: VmmHost;
  let socket: string;

  /** Images, the shared folder and the keyboard's event source, where the VMM runs. */
  const prepare = async () => {
    where = await VmmHost.open("crosvm");
    for (const [name, size] of [
      [DATA, "16M"],
      [SCSI, "16M"],
      [PMEM, "4M"],
    ] as const) {
      rmSync(where.hostPath(name), { force: true });
      host(["truncate", "-s", size, where.hostPath(name)]);
    }
    rmSync(where.hostPath(QCOW), { force: true });
    host(["qemu-img", "create", "-q", "-f", "qcow2", where.hostPath(QCOW), "16M"]);
    copyFileSync(join(import.meta.dir, HELPER), where.hostPath(HELPER));
    copyFileSync(join(import.meta.dir, VSOCK_HELPER), where.hostPath(VSOCK_HELPER));
    for (const name of [DATA, QCOW, SCSI, PMEM, HELPER, VSOCK_HELPER]) await where.importImage(name);
    const dir = where.workDir;
    // A keyboard helper left by an earlier attempt goes first.
    await where.run(
      `{ [ -f ${dir}/helper.pid ] && kill $(cat ${dir}/helper.pid); } 2> /dev/null; ` +
        `rm -rf ${dir}/${SHARE} ${dir}/${P9_SHARE} ${dir}/keys.sock ${dir}/go-keys && ` +
        `mkdir -p ${dir}/${SHARE} ${dir}/${P9_SHARE} && ` +
        `echo from-host > ${dir}/${SHARE}/from_host && echo from-host > ${dir}/${P9_SHARE}/from_host && ` +
        `{ BUN_BE_BUN=1 ${vmmExecutablePath()} ${where.vmmPath(HELPER)} serve-keys ${dir}/keys.sock ${dir}/go-keys ` +
        `> ${dir}/helper.log 2>&1 < /dev/null & echo $! > ${dir}/helper.pid; }`,
    );
    // Bun starts slowly under TCG.
    await where.run(
      `for i in $(seq 1800); do [ -S ${dir}/keys.sock ] && exit 0; sleep 0.1; done; cat ${dir}/helper.log >&2; exit 1`,
      240_000,
    );
  };

  beforeAll(async () => {
    await prepare();
    socket = controlSocketPath("unconfined-vm.sock");
    vm = await TestVm.boot({
      cmdline: "quiet",
      beforeAttempt: async (attempt) => {
        // A retry needs a new keyboard helper too: the failed VMM took its socket's one connection.
        if (attempt > 1 || (await VmmHost.open("crosvm")).hostDir !== where.hostDir) await prepare();
      },
      vmmArgs: [
        ...["-s", socket],
        ...["--block", where.vmmPath(DATA)],
        ...["--block", where.vmmPath(QCOW)],
        ...["--scsi-block", where.vmmPath(SCSI)],
        ...["--pmem", where.vmmPath(PMEM)],
        ...["--serial", `type=file,hardware=virtio-console,num=1,path=${where.vmmPath(HVC_OUT)}`],
        ...["--input", `keyboard[path=${where.vmmPath("keys.sock")}]`],
        ...["--net", `host-ip=${HOST_IP},netmask=255.255.255.0,mac=${MAC}`],
        ...["--shared-dir", `${where.vmmPath(SHARE)}:${TAG}:type=fs`],
        ...["--shared-dir", `${where.vmmPath(P9_SHARE)}:${P9_TAG}:type=p9`],
        ...["--vsock", String(GUEST_CID)],
      ],
    });
  }, BOOT_HOOK_TIMEOUT_MS);

  afterAll(async () => {
    await vm?.stop();
    await where?.run(`kill $(cat ${where.workDir}/helper.pid)`).catch(() => {});
    await where?.clean().catch(() => {});
  }, 60_000);

  for (const [what, dev] of [
    ["a raw disk (requests in flight on an io_uring)", "/dev/vda"],
    ["a qcow2 disk", "/dev/vdb"],
    ["a --scsi-block disk", "/dev/sda"],
    ["a --pmem device", "/dev/pmem0"],
  ] as const) {
    test(`4 MiB written to ${what} with O_DIRECT read back the same`, async () => {
      const { stdout, exitCode } = await vm.exec(`${WRITE_READ_BACK}; wr ${dev}`, EXEC);

      const [written, read] = stdout.trim().split("\n");
      expect(exitCode).toBe(0);
      expect(read).toBe(written!);
    });
  }

  test("hvc0 carries guest output to the --serial file", async () => {
    await vm.exec("echo unconfined-hvc0 > /dev/hvc0", EXEC);

    const out = await where.run(`cat ${where.vmmPath(HVC_OUT)}`);

    expect(out).toContain("unconfined-hvc0");
  });

  test("/dev/hwrng gives bytes from virtio-rng", async () => {
    const { stdout } = await vm.exec(
      "cat /sys/class/misc/hw_random/rng_current; head -c 64 /dev/hwrng | wc -c",
      EXEC,
    );

    expect(stdout).toMatch(/^virtio_rng/);
    expect(stdout.trim().split("\n").at(-1)).toBe("64");
  });

  test("a key press on the keyboard's event source arrives in the guest", async () => {
    await vm.exec(
      `for d in /sys/class/input/event*; do [ "$(cat $d/device/name)" = "${KEYBOARD_NAME}" ] && n=\${d##*/}; done; ` +
        `{ cat /dev/input/$n > /tmp/keys.bin 2> /dev/null < /dev/null & echo $! > /tmp/keys.pid; }`,
      EXEC,
    );

    await where.run(`touch ${where.workDir}/go-keys`);
    const { stdout } = await vm.exec(
      "for i in $(seq 600); do [ $(wc -c < /tmp/keys.bin) -ge 24 ] && break; sleep 0.1; done; " +
        "kill $(cat /tmp/keys.pid); head -c 24 /tmp/keys.bin | tail -c 8 | od -An -tu2 -tu4 -w8",
      EXEC,
    );

    // struct input_event's type, code and value (after its 16-byte timestamp): KEY_A pressed.
    const [type, code] = stdout.trim().split(/\s+/).map(Number);
    expect([type, code]).toEqual([EV_KEY, KEY_A]);
  });

  test("the guest pings the host over the TAP the VMM made (host-ip)", async () => {
    const { stdout, exitCode } = await vm.exec(
      `i=$(for i in /sys/class/net/*; do [ "$(cat $i/address)" = "${MAC}" ] && echo \${i##*/}; done); ` +
        `ip addr add ${GUEST_IP}/24 dev $i && ip link set $i up && ping -c 3 -W 5 ${HOST_IP}`,
      EXEC,
    );

    expect(exitCode).toBe(0);
    expect(stdout).toContain("3 packets received");
  });

  test("a file the host put in the shared directory reads the same through virtio-fs, and one the guest writes appears on the host", async () => {
    const { stdout } = await vm.exec(
      `mkdir -p /mnt/${TAG} && mount -t virtiofs ${TAG} /mnt/${TAG} && cat /mnt/${TAG}/from_host && ` +
        `echo from-guest > /mnt/${TAG}/from_guest && sync`,
      EXEC,
    );

    const onHost = await where.run(`cat ${where.vmmPath(SHARE)}/from_guest`);
    expect(stdout).toBe("from-host\n");
    expect(onHost).toBe("from-guest\n");
  });

  test("a file the host put in the 9p shared directory reads the same, and one the guest writes appears on the host", async () => {
    const { stdout } = await vm.exec(
      `mkdir -p /mnt/p9 && mount -t 9p -o trans=virtio,version=9p2000.L ${P9_TAG} /mnt/p9 && ` +
        "cat /mnt/p9/from_host && echo from-guest > /mnt/p9/from_guest && sync",
      EXEC,
    );

    const onHost = await where.run(`cat ${where.vmmPath(P9_SHARE)}/from_guest`);
    expect(stdout).toBe("from-host\n");
    expect(onHost).toBe("from-guest\n");
  });

  test("the guest connects to the host (CID 2) over vhost-vsock and both sides get what the other sent", async () => {
    const out = `${where.workDir}/vsock-listen`;
    await where.run(`echo from-host > ${out}.send && rm -f ${out} ${out}.ready`);
    await startVsockListener(
      (s, t) => where.run(s, t),
      where.vmmPath(VSOCK_HELPER),
      VSOCK_PORT,
      `${out}.send`,
      out,
    );

    const guest = await vm.exec(`echo from-guest | timeout 60 vsock-io connect 2 ${VSOCK_PORT} 2>&1`, EXEC);
    // What the helper wrote (the SHA-256 and size of what arrived), or its log when it wrote nothing in time.
    const hostReceived = await where.run(
      `for i in $(seq 200); do [ -s ${out} ] && cat ${out} && exit 0; sleep 0.1; done; cat ${out}.log`,
      120_000,
    );

    const sentByGuest = new Bun.CryptoHasher("sha256").update("from-guest\n").digest("hex");
    expect(guest.stdout).toBe("from-host\n");
    expect(hostReceived.trim()).toBe(`${sentByGuest} 11`);
  }, 400_000);

  test("balloon to 32 MiB inflates the default balloon to 32 MiB", async () => {
    const inflated = await crosvmControl(["balloon", `${32 * MiB}`, socket], 60_000);
    let actual = -1;
    for (const deadline = Date.now() + 150_000; actual !== 32 * MiB && Date.now() < deadline;) {
      await Bun.sleep(2000);
      const stats = await crosvmControl(["balloon_stats", socket], 60_000);
      actual = (JSON.parse(stats.stdout) as { BalloonStats: { balloon_actual: number } }).BalloonStats
        .balloon_actual;
    }

    expect(inflated.exitCode).toBe(0);
    expect(actual).toBe(32 * MiB);
  });

  test("guest poweroff ends the VMM with status 0", async () => {
    await vm.poweroff();
    const status = await vm.waitForExit(60_000);

    expect(status).toBe(0);
  }, 120_000);
});
