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

test("in the rig, a VMM that exits mid-test because the nested guest triple-faulted counts as the rig's loss", () => {
  expect(midTestRigLoss("rig", 0, TRIPLE_FAULT_LOG)).toContain("triple fault");
});

test("where the host has hardware virtualization, a mid-test triple fault is the test's failure", () => {
  expect(midTestRigLoss("direct", 0, TRIPLE_FAULT_LOG)).toBeUndefined();
});

test("a mid-test VMM exit for another reason (a guest poweroff) is not the rig's loss", () => {
  expect(
    midTestRigLoss("rig", 0, "[vmm] INFO the guest powered off; exiting with success\n"),
  ).toBeUndefined();
});

test("a VMM that failed (status 1) after a triple fault line is not the rig's loss", () => {
  expect(midTestRigLoss("rig", 1, TRIPLE_FAULT_LOG)).toBeUndefined();
});
