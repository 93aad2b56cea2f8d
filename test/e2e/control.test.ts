// Issue 5 end to end: the control socket's subcommands against a running Linux guest. `crosvm stop/suspend/
// resume/disk/powerbtn SOCKET` run where the VMM runs (inside the outer rig VM on hosts without hardware
// virtualization). Each describe boots one guest; the rig runs one at a time.
// Run alone: bun test test/e2e/control.test.ts
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { scratchDir, endTestFile, TestVm } from "./harness/test_vm.ts";
import { BOOT_HOOK_TIMEOUT_MS } from "./harness/boot_retry.ts";
import { controlSocketPath, crosvmControl, existsWhereVmmRuns } from "./harness/vmm_control.ts";

const EXEC = { timeoutMs: 30_000 };
const MIB = 1024 * 1024;

afterAll(endTestFile, 60_000);

/** How many counter lines the guest loop has printed on the console so far. */
function ticks(vm: TestVm): number {
  return vm.console.match(/tick \d+/g)?.length ?? 0;
}

describe("a guest with a control socket and two disks", () => {
  let vm: TestVm;
  let socket: string;
  afterAll(() => vm?.stop());

  beforeAll(async () => {
    const scratch = await scratchDir("crosvm");
    writeFileSync(join(scratch.hostDir, "control-vda.img"), new Uint8Array(MIB));
    writeFileSync(join(scratch.hostDir, "control-vdb.img"), new Uint8Array(4 * MIB));
    socket = controlSocketPath("control-vm.sock");
    vm = await TestVm.boot({
      cmdline: "quiet",
      vmmArgs: [
        ...["-s", socket],
        ...["--block", `path=${scratch.vmmDir}/control-vda.img`],
        ...["--block", `path=${scratch.vmmDir}/control-vdb.img`],
      ],
    });
  }, BOOT_HOOK_TIMEOUT_MS);

  test("suspend stops a guest loop printing on the console and resume continues it", async () => {
    await vm.exec(
      "(i=0; while true; do echo tick $i > /dev/console; i=$((i+1)); sleep 0.2; done) > /dev/null 2>&1 &",
      EXEC,
    );
    await Bun.sleep(2000);
    expect(ticks(vm)).toBeGreaterThan(0);

    const suspended = await crosvmControl(["suspend", socket]);
    await Bun.sleep(1000); // bytes already on their way through the serial ports
    const atSuspend = ticks(vm);
    await Bun.sleep(2000);
    const afterPause = ticks(vm);
    const resumed = await crosvmControl(["resume", socket]);
    await Bun.sleep(3000);

    expect(suspended).toMatchObject({ exitCode: 0, stderr: "" });
    expect(resumed).toMatchObject({ exitCode: 0, stderr: "" });
    expect(afterPause).toBe(atSuspend);
    expect(ticks(vm)).toBeGreaterThan(afterPause);
  }, 60_000);

  test("the agent answers after resume (guest timekeeping survived the pause)", async () => {
    const result = await vm.exec("echo alive", EXEC);

    expect(result).toEqual({ stdout: "alive\n", stderr: "", exitCode: 0 });
  });

  test("disk resize 1 makes /dev/vdb 2 MiB larger in the guest", async () => {
    const before = await vm.exec("blockdev --getsize64 /dev/vdb", EXEC);

    const resized = await crosvmControl(["disk", "resize", "1", `${6 * MIB}`, socket]);
    let after = "";
    for (let i = 0; i < 20 && after !== `${6 * MIB}`; i++) {
      await Bun.sleep(500);
      after = (await vm.exec("blockdev --getsize64 /dev/vdb", EXEC)).stdout.trim();
    }

    expect(resized).toMatchObject({ exitCode: 0, stderr: "" });
    expect(before.stdout.trim()).toBe(`${4 * MIB}`);
    expect(after).toBe(`${6 * MIB}`);
    expect((await vm.exec("dmesg | grep vdb", EXEC)).stdout).toContain("new size");
  }, 60_000);

  test("stop ends the VM with status 0 and removes the socket", async () => {
    const stopped = await crosvmControl(["stop", socket]);

    expect(stopped).toMatchObject({ exitCode: 0, stderr: "" });
    expect(await vm.waitForExit(30_000)).toBe(0);
    expect(await existsWhereVmmRuns(socket)).toBe(false);
  }, 60_000);
});

describe("the ACPI power button", () => {
  let vm: TestVm;
  let socket: string;
  afterAll(() => vm?.stop());

  beforeAll(async () => {
    socket = controlSocketPath("powerbtn-vm.sock");
    vm = await TestVm.boot({ cmdline: "quiet", vmmArgs: ["-s", socket] });
  }, BOOT_HOOK_TIMEOUT_MS);

  test("the guest's acpid listens on the power button's input device", async () => {
    const { stdout } = await vm.exec("pidof acpid; grep -l 'Power Button' /sys/class/input/*/name", EXEC);

    expect(stdout).toMatch(/^\d+\n/);
    expect(stdout).toContain("/sys/class/input/");
  });

  test("powerbtn makes the guest power off and the VMM exit with status 0", async () => {
    const pressed = await crosvmControl(["powerbtn", socket]);

    expect(pressed).toMatchObject({ exitCode: 0, stderr: "" });
    expect(await vm.waitForExit(60_000)).toBe(0);
    expect(vm.console).toContain("acpid: power button");
  }, 90_000);
});
