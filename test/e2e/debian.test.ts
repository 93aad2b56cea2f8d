// Issue 17: a stock Debian bookworm system (systemd, udev, Debian's kernel and initrd) as a guest, from the image
// scripts/guest/debian/image.ts builds. Two boots of one image, to keep CI time down (each is over a minute of
// nested TCG): the raw image is the read-only backing file of a qcow2 overlay that both boots share (the second
// boot starts from what the first left). Boot 1: -c 1; the system's state, then `systemctl reboot`. Boot 2: -c 2
// and --disable-sandbox in one boot: the second boot is clean, then `systemctl poweroff`. Both run with
// --extended-status, so a reset (32) is told apart from a power-off (0). Measured in the rig: the agent answers
// 57-81 s after the exec (systemd is running by then), the whole file takes 3.5-4.5 minutes with the rig start.
// The check's second pass (CROSVM_E2E_DISABLE_SANDBOX=1) runs boot 2 only, as a first boot (-c 2, running,
// poweroff): the first pass has booted without the sandbox already, and a third and fourth Debian boot would add
// over 3 minutes to CI.
// Run alone: bun test test/e2e/debian.test.ts
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { copyFileSync, linkSync, rmSync } from "node:fs";
import { basename } from "node:path";
import { debianImage, ensureDebianImage, HOSTNAME } from "../../scripts/guest/debian/image.ts";
import { VmmHost } from "./block_support.ts";
import { BOOT_HOOK_TIMEOUT_MS } from "./harness/boot_retry.ts";
import { endTestFile, TestVm, vmmExecutablePath } from "./harness/test_vm.ts";

const EXEC = { timeoutMs: 60_000 };
/** systemd's own boot under nested TCG: the agent answers early (it does not wait for the rest). */
const SYSTEM_RUNNING = { timeoutMs: 300_000 };
const BOOT_TIMEOUT_MS = 300_000;
const OVERLAY = "debian-overlay.qcow2";
/** crosvm's exit status for a guest reset with --extended-status. */
const RESET_STATUS = 32;
const SANDBOX_OFF = process.env.CROSVM_E2E_DISABLE_SANDBOX === "1";

setDefaultTimeout(120_000);
afterAll(endTestFile, 60_000);

let disks: VmmHost;
let prepared = false;
let machineId = "";

/** Builds the image when missing (check.ts builds it before the tests), links it in and makes the overlay, once. */
async function prepareOnce(): Promise<void> {
  if (prepared) return;
  const built = performance.now();
  await ensureDebianImage();
  console.log(`debian: image ready in ${((performance.now() - built) / 1000).toFixed(0)} s`);
  await prepareDisks();
  prepared = true;
}

/** Puts the image, kernel and initrd in the scratch folder (linked, not copied) and a new overlay beside the VMM. */
async function prepareDisks(): Promise<void> {
  disks = await VmmHost.open("crosvm");
  for (const path of [debianImage.raw, debianImage.kernel, debianImage.initrd]) {
    const target = disks.hostPath(basename(path));
    rmSync(target, { force: true });
    try {
      linkSync(path, target);
    } catch {
      copyFileSync(path, target);
    }
  }
  const base = `${disks.scratchVmmDir}/${basename(debianImage.raw)}`;
  await disks.run(
    `rm -f ${disks.vmmPath(OVERLAY)} && ${vmmExecutablePath("crosvm")} create_qcow2 ${disks.vmmPath(OVERLAY)} --backing-file ${base}`,
  );
}

function bootDebian(cpus: number, extraArgs: string[]): Promise<TestVm> {
  return TestVm.boot({
    mem: 512,
    cpus,
    cmdline: "quiet",
    bootTimeoutMs: BOOT_TIMEOUT_MS,
    vmmGlobalArgs: ["--extended-status"],
    vmmArgs: ["--block", `${disks.vmmPath(OVERLAY)},root`, ...extraArgs],
    bootFiles: {
      kernel: `${disks.scratchVmmDir}/${basename(debianImage.kernel)}`,
      initrd: `${disks.scratchVmmDir}/${basename(debianImage.initrd)}`,
    },
    // A retry on a new rig has a new scratch folder: the files go there again (and the overlay starts anew).
    beforeAttempt: async () => {
      if ((await VmmHost.open("crosvm")).hostDir !== disks.hostDir) await prepareDisks();
    },
  });
}

/** `systemctl is-system-running --wait` and the failed units, in one round trip. */
async function systemState(vm: TestVm): Promise<{ state: string; failed: string }> {
  const { stdout } = await vm.exec(
    "systemctl is-system-running --wait; echo ---; systemctl list-units --failed --plain --no-legend",
    SYSTEM_RUNNING,
  );
  const [state = "", failed = ""] = stdout.split("---\n");
  return { state: state.trim(), failed: failed.trim() };
}

/** Asks systemd for `verb` (reboot, poweroff) without waiting for the job, then for the VMM's exit status. */
async function systemctlAndExit(vm: TestVm, verb: string): Promise<number> {
  // The reply may lose the race with the VMM's exit; the exit status is what counts.
  await vm.exec(`systemctl --no-block ${verb}`, EXEC).catch(() => undefined);
  return await vm.waitForExit(180_000);
}

describe.skipIf(SANDBOX_OFF)("Debian bookworm, first boot with -c 1", () => {
  let vm: TestVm;
  let state = { state: "", failed: "" };

  beforeAll(async () => {
    await prepareOnce();
    vm = await bootDebian(1, []);
    state = await systemState(vm);
    console.log(`debian: -c 1 agent after ${(vm.bootMs / 1000).toFixed(0)} s, system state ${state.state}`);
  }, BOOT_HOOK_TIMEOUT_MS + SYSTEM_RUNNING.timeoutMs);

  afterAll(() => vm?.stop(), 60_000);

  test("systemd reaches running with no failed unit", () => {
    expect(state.failed).toBe("");
    expect(state.state).toBe("running");
  });

  test("the root file system is /dev/vda from fstab, read-write, after initramfs-tools' fsck found it clean", async () => {
    const { stdout } = await vm.exec(
      "findmnt -n -o SOURCE,FSTYPE,OPTIONS /; echo ---; cat /run/initramfs/fsck.log",
      EXEC,
    );
    const [mount = "", fsck = ""] = stdout.split("---\n");

    expect(mount).toMatch(/^\/dev\/vda ext4 +rw,.*errors=remount-ro/);
    expect(fsck).toMatch(/debian-root: clean/);
  });

  test("the hostname is the image's and CPUs are as asked", async () => {
    const { stdout } = await vm.exec("hostname; nproc", EXEC);

    expect(stdout.split("\n").slice(0, 2)).toEqual([HOSTNAME, "1"]);
  });

  test("the guest's clock is the host's (within a minute)", async () => {
    const { stdout } = await vm.exec("date +%s", EXEC);

    expect(Math.abs(Number(stdout.trim()) - Date.now() / 1000)).toBeLessThan(60);
  });

  test("the kernel's random pool is ready (entropy_avail 256)", async () => {
    const { stdout } = await vm.exec("cat /proc/sys/kernel/random/entropy_avail", EXEC);

    expect(stdout.trim()).toBe("256");
  });

  test("journald keeps this boot's log on disk (/var/log/journal)", async () => {
    const { stdout } = await vm.exec(
      "journalctl --flush && ls /var/log/journal/$(cat /etc/machine-id) && journalctl -b -q --no-pager | grep -c 'Reached target'; cat /etc/machine-id",
      EXEC,
    );
    const lines = stdout.trim().split("\n");
    machineId = lines.at(-1) ?? "";

    expect(lines.some((l) => l.startsWith("system.journal"))).toBe(true);
    expect(Number(lines.at(-2))).toBeGreaterThan(0);
    expect(machineId).toMatch(/^[0-9a-f]{32}$/);
  });

  test("systemctl reboot ends the VMM with crosvm's reset status (32 with --extended-status)", async () => {
    const status = await systemctlAndExit(vm, "reboot");

    expect(status).toBe(RESET_STATUS);
  }, 240_000);
});

describe(`Debian bookworm, ${SANDBOX_OFF ? "one boot" : "second boot of the same image"} with -c 2 and --disable-sandbox`, () => {
  let vm: TestVm;
  let state = { state: "", failed: "" };

  beforeAll(async () => {
    await prepareOnce();
    vm = await bootDebian(2, SANDBOX_OFF ? [] : ["--disable-sandbox"]);
    state = await systemState(vm);
    console.log(`debian: -c 2 agent after ${(vm.bootMs / 1000).toFixed(0)} s, system state ${state.state}`);
  }, BOOT_HOOK_TIMEOUT_MS + SYSTEM_RUNNING.timeoutMs);

  afterAll(() => vm?.stop(), 60_000);

  test("systemd reaches running with no failed unit, on 2 CPUs", async () => {
    const { stdout } = await vm.exec("nproc", EXEC);

    expect(state.failed).toBe("");
    expect(state.state).toBe("running");
    expect(stdout.trim()).toBe("2");
  });

  test.skipIf(SANDBOX_OFF)(
    "the second boot is clean: same machine id, the first boot's log in the journal, no ext4 journal recovery",
    async () => {
      const { stdout } = await vm.exec(
        "cat /etc/machine-id; journalctl -b -1 -q --no-pager -n 1 | wc -l; journalctl -k -b -q --no-pager | grep -c 'recovery' || true; cat /run/initramfs/fsck.log",
        EXEC,
      );
      const [id, previousBootLines, recoveries, ...fsck] = stdout.trim().split("\n");

      expect(id).toBe(machineId);
      expect(previousBootLines).toBe("1");
      expect(recoveries).toBe("0");
      expect(fsck.join("\n")).toMatch(/debian-root: clean/);
    },
  );

  test("systemctl poweroff ends the VMM with status 0", async () => {
    const status = await systemctlAndExit(vm, "poweroff");

    expect(status).toBe(0);
  }, 240_000);
});
