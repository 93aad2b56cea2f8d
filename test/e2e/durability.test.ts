// Issue 15 item 5: durability under a crash. The guest writes 16 MiB to a raw and to a qcow2 disk and fsyncs each
// (dd conv=fsync: the guest kernel sends a virtio-blk flush and waits for it); as soon as the agent has answered,
// the VMM is killed with SIGKILL, so nothing the VMM kept in its own memory (buffered data, qcow2 tables not yet
// written) can reach the file afterwards. Each image must then hold every byte the guest saw flushed, and the
// qcow2 image must pass `qemu-img check`. One boot for the whole file. Run alone: bun test test/e2e/durability.test.ts
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { readFileSync, rmSync } from "node:fs";
import { host, VmmHost } from "./block_support.ts";
import { BOOT_HOOK_TIMEOUT_MS } from "./harness/boot_retry.ts";
import { endTestFile, TestVm } from "./harness/test_vm.ts";

const MiB = 1024 * 1024;
const WRITTEN_MIB = 16;
const RAW = "durable.raw";
const QCOW = "durable.qcow2";
/** Offset of the written data in each disk, in MiB: not at 0, so a write landing at offset 0 is caught too. */
const SEEK_MIB = 3;

setDefaultTimeout(180_000);
afterAll(endTestFile, 60_000);

function sha256(bytes: Uint8Array): string {
  return new Bun.CryptoHasher("sha256").update(bytes).digest("hex");
}

/** The guest script: fresh random data per disk, written and fsynced, then the data's checksum. */
function writeAndFsync(device: string, payload: string): string {
  return [
    `dd if=/dev/urandom of=${payload} bs=1M count=${WRITTEN_MIB} 2> /dev/null`,
    `dd if=${payload} of=${device} bs=1M seek=${SEEK_MIB} conv=fsync 2> /dev/null`,
    `sha256sum < ${payload}`,
  ].join(" && ");
}

describe("after the guest fsyncs 16 MiB and the VMM is killed with SIGKILL at once", () => {
  let disks: VmmHost;
  let vm: TestVm;
  const guestSha: Record<string, string> = {};
  let killedWhileRunning = false;

  beforeAll(async () => {
    // The images are made before each boot attempt: a retry on a new rig needs them again.
    const makeImages = async () => {
      disks = await VmmHost.open("crosvm");
      for (const name of [RAW, QCOW]) rmSync(disks.hostPath(name), { force: true });
      host(["truncate", "-s", "32M", disks.hostPath(RAW)]);
      host(["qemu-img", "create", "-q", "-f", "qcow2", disks.hostPath(QCOW), "32M"]);
      for (const name of [RAW, QCOW]) await disks.importImage(name);
    };
    await makeImages();
    vm = await TestVm.boot({
      cmdline: "quiet",
      vmmArgs: ["--block", disks.vmmPath(RAW), "--block", disks.vmmPath(QCOW)],
      beforeAttempt: async () => {
        // Opening the VMM's host replaces a rig that went away; a new rig has a new scratch folder.
        if ((await VmmHost.open("crosvm")).hostDir !== disks.hostDir) await makeImages();
      },
    });

    const raw = await vm.exec(writeAndFsync("/dev/vda", "/tmp/raw.payload"), { timeoutMs: 120_000 });
    const qcow = await vm.exec(writeAndFsync("/dev/vdb", "/tmp/qcow.payload"), { timeoutMs: 120_000 });
    killedWhileRunning = await vm.sigkill();

    if (raw.exitCode !== 0 || qcow.exitCode !== 0)
      throw new Error(`the guest's writes failed: raw ${raw.stderr.trim()}; qcow2 ${qcow.stderr.trim()}`);
    guestSha[RAW] = raw.stdout.split(" ")[0]!;
    guestSha[QCOW] = qcow.stdout.split(" ")[0]!;
    for (const name of [RAW, QCOW]) await disks.exportImage(name);
  }, BOOT_HOOK_TIMEOUT_MS);

  afterAll(async () => {
    await vm?.stop();
    await disks?.clean().catch(() => {});
  }, 60_000);

  test("the VMM was still running when it was killed", () => {
    expect(killedWhileRunning).toBe(true);
  });

  test("the raw image holds every byte the guest flushed", () => {
    const bytes = readFileSync(disks.hostPath(RAW));

    expect(sha256(bytes.subarray(SEEK_MIB * MiB, (SEEK_MIB + WRITTEN_MIB) * MiB))).toBe(guestSha[RAW]!);
  });

  test("the qcow2 image passes `qemu-img check`: no corruption (leaked clusters are allowed after a crash)", () => {
    const check = Bun.spawnSync(["qemu-img", "check", disks.hostPath(QCOW)], {
      stdout: "pipe",
      stderr: "pipe",
    });

    // qemu-img check exits 0 for a clean image, 3 when clusters leaked only ("no harm to data", as QEMU's own
    // qcow2 leaves them after a crash), 2 for corruption, 1 when it could not check.
    const output = `${check.stdout}${check.stderr}`;
    expect(output).not.toContain("ERROR");
    expect([0, 3]).toContain(check.exitCode);
  });

  test("the qcow2 image holds every byte the guest flushed", () => {
    const raw = disks.hostPath(`${QCOW}.raw`);
    host(["qemu-img", "convert", "-f", "qcow2", "-O", "raw", disks.hostPath(QCOW), raw]);
    const bytes = readFileSync(raw);

    expect(sha256(bytes.subarray(SEEK_MIB * MiB, (SEEK_MIB + WRITTEN_MIB) * MiB))).toBe(guestSha[QCOW]!);
  });
});
