// The direct-kernel-boot path (`crosvm run KERNEL`) up to the kernel's entry point, with a stand-in ELF64 kernel
// (guests/kernel64.S): Linux itself does not run on this host's /dev/kvm (kvm-here.md); test/e2e boots it.
import { expect, test } from "bun:test";
import { kernelImage } from "./guest_build.ts";
import { runCrosvm } from "./run_cli.ts";

test("an ELF64 kernel is entered in 64-bit mode with RSI pointing at boot_params (0x7000)", async () => {
  const r = await runCrosvm(["run", await kernelImage("kernel64")]);

  expect(r.stdout).toBe("64-bit entry, boot_params at 0000000000007000\n");
  expect(r.status).toBe(0);
});

test("with -c 2 every vCPU accepts its CPUID, MSRs and LAPIC setup and the kernel is entered", async () => {
  const r = await runCrosvm(["run", "-c", "2", await kernelImage("kernel64")]);

  expect(r.stdout).toBe("64-bit entry, boot_params at 0000000000007000\n");
  expect(r.status).toBe(0);
});
