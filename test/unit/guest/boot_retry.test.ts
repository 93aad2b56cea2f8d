import { expect, test } from "bun:test";
import {
  describeFailure,
  midTestRigLoss,
  RIG_BOOT_ATTEMPTS,
  retryReason,
} from "../../e2e/harness/boot_retry.ts";

test("in the rig, a guest reset before any console output is retried", () => {
  expect(retryReason("rig", { kind: "exited", status: 0, consoleBytes: 0 }, 1)).toContain(
    "first console line",
  );
});

test("a VMM that refuses its arguments (status 1, no console output) is not retried", () => {
  expect(retryReason("rig", { kind: "exited", status: 1, consoleBytes: 0 }, 1)).toBeUndefined();
});

test("a VMM exit after the guest printed something is the test's failure, not retried", () => {
  expect(retryReason("rig", { kind: "exited", status: 1, consoleBytes: 120 }, 1)).toBeUndefined();
});

test("in the rig, a boot that hangs while the outer VM stopped answering is retried", () => {
  expect(retryReason("rig", { kind: "hang", timeoutMs: 120_000, hostAnswers: false }, 1)).toContain(
    "stopped answering",
  );
});

test("in the rig, a boot that hangs while the outer VM still answers is the VMM's failure, not retried", () => {
  expect(retryReason("rig", { kind: "hang", timeoutMs: 120_000, hostAnswers: true }, 1)).toBeUndefined();
});

test("a hang the rig is not blamed for says so in the test's error", () => {
  expect(describeFailure({ kind: "hang", timeoutMs: 120_000, hostAnswers: true })).toContain(
    "not the rig's fault",
  );
});

test("in the rig, a boot whose outer VM went away is retried", () => {
  expect(retryReason("rig", { kind: "host-gone", cause: "outer QEMU exited with 0" }, 2)).toContain(
    "outer QEMU exited with 0",
  );
});

test("no retry once the rig's attempts are used up", () => {
  expect(
    retryReason("rig", { kind: "hang", timeoutMs: 1, hostAnswers: false }, RIG_BOOT_ATTEMPTS),
  ).toBeUndefined();
});

test("direct mode never retries, whatever failed", () => {
  expect(retryReason("direct", { kind: "exited", status: 0, consoleBytes: 0 }, 1)).toBeUndefined();
});

const TRIPLE_FAULT_LOG =
  "[vmm] INFO vCPU 0: triple fault (KVM_EXIT_SHUTDOWN); the guest shut down; exiting with success\n";
const tripleFault = (status: number) => ({ status, vmmLog: TRIPLE_FAULT_LOG, console: "" });

// What CI's block.test.ts run printed on 2026-12-07 (shortened): the guest kernel's double fault, its panic=-1 reset.
const DOUBLE_FAULT_CONSOLE =
  "[   14.620150] traps: PANIC: double fault, error_code: 0x0\n" +
  "[   14.622001] RIP: 0010:entry_SYSCALL_64+0x0/0x29\n" +
  "[   14.622001] Kernel panic - not syncing: Fatal exception in interrupt\n";
const GUEST_RESET_LOG =
  "[devices::acpi] INFO the guest wrote the ACPI reset register\n[vmm] INFO the guest requested a reset; exiting with reset\n";

test("in the rig, a VMM that exits mid-test because the nested guest triple-faulted counts as the rig's loss", () => {
  expect(midTestRigLoss("rig", tripleFault(0))).toContain("triple fault");
});

test("where the host has hardware virtualization, a mid-test triple fault is the test's failure", () => {
  expect(midTestRigLoss("direct", tripleFault(0))).toBeUndefined();
});

test("a mid-test VMM exit for another reason (a guest poweroff) is not the rig's loss", () => {
  expect(
    midTestRigLoss("rig", {
      status: 0,
      vmmLog: "[vmm] INFO the guest powered off; exiting with success\n",
      console: "reboot: Power down\n",
    }),
  ).toBeUndefined();
});

test("a VMM that failed (status 1) after a triple fault line is not the rig's loss", () => {
  expect(midTestRigLoss("rig", tripleFault(1))).toBeUndefined();
});

test("in the rig, a guest kernel's double-fault panic and reset in the middle of a test counts as the rig's loss", () => {
  expect(
    midTestRigLoss("rig", { status: 0, vmmLog: GUEST_RESET_LOG, console: DOUBLE_FAULT_CONSOLE }),
  ).toContain("double fault");
});

test("where the host has hardware virtualization, a guest kernel's double fault is the test's failure", () => {
  expect(
    midTestRigLoss("direct", { status: 0, vmmLog: GUEST_RESET_LOG, console: DOUBLE_FAULT_CONSOLE }),
  ).toBeUndefined();
});

test("a guest reset after a panic other than a double fault is not the rig's loss", () => {
  const oops =
    "[   14.6] BUG: kernel NULL pointer dereference, address: 0000000000000008\nKernel panic - not syncing\n";

  expect(midTestRigLoss("rig", { status: 0, vmmLog: GUEST_RESET_LOG, console: oops })).toBeUndefined();
});
