// Issue 13 item 1 end to end: guests with more RAM than one 4 GiB view boot and see it all. Guest RAM above 4 GiB
// is one region of 4.75 GiB (8 GiB guest) or 8.75 GiB (12 GiB guest), which GuestMemory sees through several views.
// The outer rig VM needs no matching RAM: the memfd fills only with what the guest touches. One guest at a time.
// Run alone: bun test test/e2e/big_memory.test.ts
import { afterAll, describe, expect, test } from "bun:test";
import { BOOT_HOOK_TIMEOUT_MS } from "./harness/boot_retry.ts";
import { endTestFile, TestVm } from "./harness/test_vm.ts";

const EXEC = { timeoutMs: 30_000 };
/** Initialising the page structures of 12 GiB takes the nested guest longer than the harness's default. */
const BIG_BOOT_TIMEOUT_MS = 150_000;

afterAll(endTestFile, 60_000);

/** MemTotal of /proc/meminfo in KiB. */
async function memTotalKib(vm: TestVm): Promise<number> {
  const { stdout } = await vm.exec("grep MemTotal /proc/meminfo", EXEC);
  return Number(/MemTotal:\s+(\d+) kB/.exec(stdout)?.[1]);
}

for (const gib of [8, 12]) {
  describe(`--mem ${gib * 1024}`, () => {
    let vm: TestVm | undefined;
    afterAll(() => vm?.stop());

    test(
      `the guest boots and MemTotal is within 5% below ${gib} GiB`,
      async () => {
        vm = await TestVm.boot({ mem: gib * 1024, cmdline: "quiet", bootTimeoutMs: BIG_BOOT_TIMEOUT_MS });

        const kib = await memTotalKib(vm);

        expect(kib).toBeGreaterThan(gib * 1024 * 1024 * 0.95);
        expect(kib).toBeLessThanOrEqual(gib * 1024 * 1024);
      },
      BOOT_HOOK_TIMEOUT_MS,
    );

    test("virtio-rng fills the guest's buffers (its device process maps all of guest RAM)", async () => {
      const script = "cat /sys/class/misc/hw_random/rng_current; head -c 65536 /dev/hwrng | wc -c";

      const { stdout } = await vm!.exec(script, { timeoutMs: 60_000 });

      expect(stdout).toMatch(/^virtio_rng\.\d+\n\s*65536\n$/);
    }, 90_000);

    test("guest poweroff ends the VMM with status 0", async () => {
      await vm!.poweroff();

      expect(await vm!.waitForExit(60_000)).toBe(0);
    }, 90_000);
  });
}
