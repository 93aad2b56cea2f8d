// Proves the e2e harness end to end with QEMU as the VMM under test (inside the nested rig on hosts without
// hardware virtualization): boot to the agent, run commands, power off, read the exit status.
// The tests share one guest and run in order; the last one powers it off.
// Run alone: bun test test/e2e/rig_smoke.test.ts
import { afterAll, beforeAll, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { scratchDir, endTestFile, TestVm } from "./harness/test_vm.ts";
import { BOOT_HOOK_TIMEOUT_MS } from "./harness/boot_retry.ts";

// Generous bounds: under QEMU/TCG the rig takes ~10 s to boot and the nested guest ~15 s on a busy 2-core machine.

let vm: TestVm;

const DISK_MARKER = "rig-smoke-disk-0123456789";

beforeAll(async () => {
  // A raw disk image handed to the VMM through the scratch folder (9p into the rig).
  const scratch = await scratchDir("qemu");
  const disk = new Uint8Array(1024 * 1024);
  disk.set(new TextEncoder().encode(DISK_MARKER));
  writeFileSync(join(scratch.hostDir, "disk.img"), disk);
  vm = await TestVm.boot({
    vmm: "qemu",
    vmmArgs: ["-drive", `file=${scratch.vmmDir}/disk.img,format=raw,if=virtio`],
  });
  const rig = vm.rigStartMs === undefined ? "" : `rig start ${vm.rigStartMs.toFixed(0)} ms, `;
  console.log(`rig_smoke: ${vm.mode} mode, ${rig}VMM start to guest agent ${vm.bootMs.toFixed(0)} ms`);
}, BOOT_HOOK_TIMEOUT_MS);

afterAll(async () => {
  await vm?.stop();
  await endTestFile();
}, 60_000);

test("guest agent returns the output and status of `echo 42`", async () => {
  const started = performance.now();
  const result = await vm.exec("echo 42", { timeoutMs: 10_000 });
  console.log(`rig_smoke: echo round trip ${(performance.now() - started).toFixed(0)} ms`);

  expect(result).toEqual({ stdout: "42\n", stderr: "", exitCode: 0 });
});

test("guest agent returns stderr and a non-zero exit status", async () => {
  const result = await vm.exec("echo oops >&2; exit 3", { timeoutMs: 10_000 });

  expect(result).toEqual({ stdout: "", stderr: "oops\n", exitCode: 3 });
});

test("guest agent kills a command that outlives its timeout", async () => {
  const result = await vm.exec("sleep 30", { timeoutMs: 1000 });

  expect(result.exitCode).toBe(137);
});

test("guest /init loaded the virtio modules from the initramfs", async () => {
  const result = await vm.exec("cut -d' ' -f1 /proc/modules", { timeoutMs: 10_000 });

  expect(result.stdout.split("\n")).toEqual(
    expect.arrayContaining(["virtio_pci", "virtio_blk", "virtio_net"]),
  );
});

test("guest reads the disk image the test wrote into the scratch folder", async () => {
  const result = await vm.exec(`head -c ${DISK_MARKER.length} /dev/vda`, { timeoutMs: 10_000 });

  expect(result.stdout).toBe(DISK_MARKER);
});

test("console shows the guest kernel's boot log", () => {
  expect(vm.console).toContain("Linux version");
});

test("VMM exits with 0 after the guest powers off", async () => {
  const started = performance.now();
  await vm.poweroff();
  const status = await vm.waitForExit(60_000);
  console.log(`rig_smoke: poweroff to VMM exit ${(performance.now() - started).toFixed(0)} ms`);

  expect(status).toBe(0);
});

test("boot fails fast with the VMM's own error when the VMM refuses its arguments", async () => {
  const boot = TestVm.boot({ vmm: "qemu", vmmArgs: ["-no-such-option"], bootTimeoutMs: 60_000 });

  await expect(boot).rejects.toThrow(/exited with 1 before the guest agent was ready[\s\S]*-no-such-option/);
});
