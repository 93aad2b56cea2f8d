// Tiny --bios guests run through the CLI: serial output, serial input, unmapped MMIO, two vCPUs, reset and
// triple-fault exits, and stopping on SIGTERM, through dist/crosvm and, for the first, through `bun run src/main.ts`
// (launchRunners in run_cli.ts).
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { guestImage } from "./guest_build.ts";
import { launchRunners, runCrosvm } from "./run_cli.ts";

/** /dev/kvm is backed by AMD-V (inside the nested rig: the outer VM's emulated EPYC). */
const amdSvm = /^flags\s*:.*\bsvm\b/m.test(readFileSync("/proc/cpuinfo", "utf8"));

const runners = launchRunners();

for (const runner of runners) {
  describe.skipIf(!runner.available)(`through ${runner.name}`, () => {
    const run = async (guest: string, extra: string[] = [], opts: Parameters<typeof runCrosvm>[1] = {}) =>
      runCrosvm(["run", ...extra, "--bios", await guestImage(guest)], { ...opts, compiled: runner.compiled });

    test("a guest's line on COM1 reaches stdout and its i8042 reset ends the VM with status 0", async () => {
      const r = await run("hello");

      expect(r.stdout).toBe("hello from the guest\n");
      expect(r.status).toBe(0);
    });

    // The rest only where this runner runs every test (launchRunners).
    if (!runner.everyTest) return;

    test("a byte on stdin is read by the guest from COM1 and echoed back", async () => {
      const r = await run("echo", [], { stdin: "x" });

      expect(r.stdout).toBe("ready\ngot: x\n");
      expect(r.status).toBe(0);
    });

    test("MMIO to an unmapped address is reported, reads as zero, and the VM keeps running", async () => {
      const r = await run("mmio");

      expect(r.stderr).toContain("write to unmapped MMIO address 0xe0000000 (4 bytes)");
      expect(r.stderr).toContain("read from unmapped MMIO address 0xe0000000 (4 bytes)");
      expect(r.stdout).toBe("unmapped read returned 00000000\n");
      expect(r.status).toBe(0);
    });

    test("with -c 2 both vCPUs run and each counts to 20000 in guest RAM", async () => {
      const r = await run("smp", ["-c", "2"]);

      expect(r.stdout).toBe("bsp=00004E20 ap=00004E20\n");
      expect(r.status).toBe(0);
    });

    test("an undeliverable exception ends the VM with its exit reason and a register dump", async () => {
      const r = await run("triple_fault");

      // Hardware KVM reports the triple fault as KVM_EXIT_SHUTDOWN; the software-nested PVM /dev/kvm fails to
      // emulate the exception delivery and reports KVM_EXIT_INTERNAL_ERROR instead (see kvm-here.md).
      expect(r.stderr).toMatch(
        /vCPU 0: (triple fault \(KVM_EXIT_SHUTDOWN\)|KVM internal error: .*KVM_EXIT_INTERNAL_ERROR)/,
      );
      if (amdSvm) {
        // On AMD SVM, KVM puts the vCPU through INIT on a SHUTDOWN intercept (the VMCB is undefined after it:
        // arch/x86/kvm/svm/svm.c shutdown_interception), so the dump shows the reset state.
        expect(r.stderr).toMatch(/RIP=000000000000fff0 RFLAGS=0000000000000002/);
        expect(r.stderr).toMatch(/CS  sel=f000 base=00000000ffff0000 limit=0000ffff/);
        expect(r.stderr).toMatch(/CR0=0000000060000010 CR2=/);
      } else {
        expect(r.stderr).toMatch(/RIP=00000000ffff[0-9a-f]{4} RFLAGS=[0-9a-f]{16}/);
        expect(r.stderr).toMatch(/CS  sel=0008 base=0000000000000000 limit=ffffffff/);
        expect(r.stderr).toMatch(/CR0=0000000060000011 CR2=/);
      }
      expect(r.status).toBe(0);
    });

    test.each(["SIGTERM", "SIGINT"] as const)(
      "%s stops a VM whose vCPU never exits, with status 0",
      async (signal) => {
        const r = await run("spin", [], {
          signal: { afterOutput: "spinning\n", signal },
        });

        expect(r.stdout).toBe("spinning\n");
        expect(r.stderr).toContain(`received ${signal}`);
        expect(r.status).toBe(0);
      },
    );
  });
}

describe("exit status", () => {
  test("--extended-status reports a guest reset as 32 (crosvm CommandStatus::VmReset)", async () => {
    const r = await runCrosvm(["--extended-status", "run", "--bios", await guestImage("hello")]);

    expect(r.status).toBe(32);
  });

  test("a missing --bios file is refused with one line naming it", async () => {
    const r = await runCrosvm(["run", "--bios", "/nonexistent/bios.bin"]);

    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain("/nonexistent/bios.bin");
  });
});
