// Issue 3 end to end: our VMM boots Debian's kernel with a busybox initramfs (given with --initrd) to the guest
// agent, and what the command line asks for is what the guest sees. In the nested rig on hosts without hardware
// virtualization. Each describe boots one guest; the rig runs one at a time. Run alone: bun test test/e2e/boot.test.ts
import { afterAll, describe, expect, test } from "bun:test";
import { endTestFile, TestVm } from "./harness/test_vm.ts";
import { BOOT_HOOK_TIMEOUT_MS } from "./harness/boot_retry.ts";

const EXEC = { timeoutMs: 30_000 };

afterAll(endTestFile, 60_000);

describe("a default guest (256 MiB, 1 vCPU, generic kernel, --initrd)", () => {
  let vm: TestVm;

  test(
    "boots to the agent, which runs `echo 42`",
    async () => {
      vm = await TestVm.boot({ cmdline: "crosvm_e2e_marker=1" });

      const result = await vm.exec("echo 42", EXEC);

      expect(result).toEqual({ stdout: "42\n", stderr: "", exitCode: 0 });
    },
    BOOT_HOOK_TIMEOUT_MS,
  );

  test("-p parameters reach /proc/cmdline after panic=-1 and the console", async () => {
    const { stdout } = await vm.exec("cat /proc/cmdline", EXEC);

    expect(stdout).toStartWith("panic=-1 console=ttyS0");
    expect(stdout).toContain("crosvm_e2e_marker=1");
  });

  test("the RTC gives the host's date", async () => {
    const { stdout } = await vm.exec("date -u +%s", EXEC);

    expect(Math.abs(Number(stdout) - Date.now() / 1000)).toBeLessThan(120);
  });

  test("the guest runs its init from the initrd", async () => {
    const { stdout } = await vm.exec("cat /proc/1/comm; ls /init", EXEC);

    expect(stdout).toBe("init\n/init\n");
  });

  test("console text reaches the console port (--serial type=file)", () => {
    expect(vm.console).toContain("Linux version");
  });

  test("guest poweroff ends the VMM with status 0", async () => {
    await vm.poweroff();

    expect(await vm.waitForExit(60_000)).toBe(0);
  }, 90_000);
});

describe("--mem 512 -c 2 with the generic kernel", () => {
  let vm: TestVm;
  afterAll(() => vm?.stop());

  test(
    "/proc/meminfo shows about 512 MiB",
    async () => {
      vm = await TestVm.boot({ mem: 512, cpus: 2, cmdline: "quiet" });

      const { stdout } = await vm.exec("grep MemTotal /proc/meminfo", EXEC);

      const kib = Number(/MemTotal:\s+(\d+) kB/.exec(stdout)?.[1]);
      expect(kib).toBeGreaterThan(400 * 1024);
      expect(kib).toBeLessThanOrEqual(512 * 1024);
    },
    BOOT_HOOK_TIMEOUT_MS,
  );

  test("/proc/cpuinfo lists 2 processors", async () => {
    const { stdout } = await vm.exec("grep -c ^processor /proc/cpuinfo", EXEC);

    expect(stdout.trim()).toBe("2");
  });
});

describe("-c 2 with the cloud kernel (CPUs found through ACPI only)", () => {
  let vm: TestVm;
  afterAll(() => vm?.stop());

  test(
    "/proc/cpuinfo lists 2 processors",
    async () => {
      vm = await TestVm.boot({ kernel: "cloud", cpus: 2, cmdline: "quiet" });

      const { stdout } = await vm.exec("grep -c ^processor /proc/cpuinfo", EXEC);

      expect(stdout.trim()).toBe("2");
    },
    BOOT_HOOK_TIMEOUT_MS,
  );
});

describe("a guest kernel panic", () => {
  test(
    "`echo c > /proc/sysrq-trigger` ends the VMM within seconds",
    async () => {
      const vm = await TestVm.boot();
      void vm.exec("echo c > /proc/sysrq-trigger", { timeoutMs: 5_000 }).catch(() => undefined);

      const status = await vm.waitForExit(30_000);

      expect(status).toBe(0);
      expect(vm.console).toContain("Kernel panic");
    },
    BOOT_HOOK_TIMEOUT_MS,
  );
});

describe("a guest kernel panic with --pvpanic", () => {
  test(
    "the VMM says the guest panicked and exits with 34 under --extended-status",
    async () => {
      const vm = await TestVm.boot({ vmmArgs: ["--pvpanic"], vmmGlobalArgs: ["--extended-status"] });
      void vm.exec("echo c > /proc/sysrq-trigger", { timeoutMs: 5_000 }).catch(() => undefined);

      const status = await vm.waitForExit(30_000);

      expect(await vm.vmmLog()).toContain("the guest panicked");
      expect(status).toBe(34);
    },
    BOOT_HOOK_TIMEOUT_MS,
  );
});

describe("a serial port on stdout (--serial type=stdout)", () => {
  test(
    "what the guest writes to that port reaches the VMM's stdout",
    async () => {
      const vm = await TestVm.boot({ vmmArgs: ["--serial", "type=stdout,num=3"], cmdline: "quiet" });
      await vm.exec("echo crosvm-stdout-check > /dev/ttyS2", EXEC);
      await vm.poweroff();
      await vm.waitForExit(60_000);

      expect(await vm.vmmLog()).toContain("crosvm-stdout-check");
    },
    BOOT_HOOK_TIMEOUT_MS,
  );
});
