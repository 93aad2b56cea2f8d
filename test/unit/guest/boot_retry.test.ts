import { expect, test } from "bun:test";
import {
  describeFailure,
  guestPageWalkStorm,
  midTestRigHang,
  midTestRigLoss,
  RIG_BOOT_ATTEMPTS,
  retryReason,
} from "../../e2e/harness/boot_retry.ts";

/** A process report's KVM trace as CI's balloon.test.ts hang on 2026-12-07 printed it, with `pageFault` in it. */
function hangReport(pageFault: string): string {
  return [
    "== kvm_exit events in one second (count, vCPU thread, event)",
    "  12666 vcpu 0 reason npf rip 0xffffffffc04b720c",
    "== kvm_page_fault events in that second (count, event)",
    `  ${pageFault}`,
    "== one kvm_exit event in full",
  ].join("\n");
}
/** The guest's page walk reaches a non-RAM address (error code: RSVD and GUEST_PAGE set), 12,783 times. */
const WALK_OUTSIDE_RAM =
  "12783 vcpu 0 rip 0xffffffffc04b720c address 0x0000000027e46fe0 error_code 0x20000000e";

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

test("a storm of guest page-walk faults outside RAM is named, with the address and the instruction", () => {
  const why = guestPageWalkStorm(hangReport(WALK_OUTSIDE_RAM));

  expect(why).toContain("0x0000000027e46fe0");
  expect(why).toContain("rip 0xffffffffc04b720c");
});

test("faults the host's KVM keeps fixing in RAM (no reserved bit) are not the rig's", () => {
  const ram = "12783 vcpu 0 rip 0xffffffffc04b720c address 0x0000000007e46fe0 error_code 0x200000006";

  expect(guestPageWalkStorm(hangReport(ram))).toBeUndefined();
});

test("MMIO faults of the guest's own accesses (not its page walk) are not the rig's", () => {
  const mmio = "12783 vcpu 0 rip 0xffffffffc04b720c address 0x00000000fe000000 error_code 0x10000000e";

  expect(guestPageWalkStorm(hangReport(mmio))).toBeUndefined();
});

test("a few page-walk faults outside RAM in one second are not a storm", () => {
  const few = "12 vcpu 0 rip 0xffffffffc04b720c address 0x0000000027e46fe0 error_code 0x20000000e";

  expect(guestPageWalkStorm(hangReport(few))).toBeUndefined();
});

test("in the rig, a boot that hangs in such a storm while the outer VM answers is retried", () => {
  const failure = {
    kind: "hang" as const,
    timeoutMs: 120_000,
    hostAnswers: true,
    report: hangReport(WALK_OUTSIDE_RAM),
  };

  expect(retryReason("rig", failure, 1)).toContain("outside its RAM");
});

test("in direct mode, a boot that hangs in such a storm is the test's failure", () => {
  const failure = {
    kind: "hang" as const,
    timeoutMs: 60_000,
    hostAnswers: true,
    report: hangReport(WALK_OUTSIDE_RAM),
  };

  expect(retryReason("direct", failure, 1)).toBeUndefined();
});

test("in the rig, a guest hung mid-test in such a storm counts as the rig's loss", () => {
  expect(midTestRigHang("rig", hangReport(WALK_OUTSIDE_RAM))).toContain("page tables hold garbage");
});

test("in direct mode, a guest hung mid-test in such a storm is the test's failure", () => {
  expect(midTestRigHang("direct", hangReport(WALK_OUTSIDE_RAM))).toBeUndefined();
});

/** CI's boot on 2026-12-07 that triple-faulted 3 ms into the kernel's start, after its first console lines. */
const TRIPLE_FAULT_AT_BOOT = {
  kind: "exited" as const,
  status: 0,
  consoleBytes: 1800,
  vmmLog: "[vmm] INFO vCPU 0: triple fault (KVM_EXIT_SHUTDOWN); the guest shut down; exiting with success",
  console: "[    0.002805] last_pfn = 0x10000 max_arch_pfn = 0x400000000",
};

test("in the rig, a boot the guest ends with a triple fault after its first console lines is retried", () => {
  expect(retryReason("rig", TRIPLE_FAULT_AT_BOOT, 1)).toContain("triple fault");
});

test("in direct mode, a boot the guest ends with a triple fault is the test's failure", () => {
  expect(retryReason("direct", TRIPLE_FAULT_AT_BOOT, 1)).toBeUndefined();
});

test("a boot the VMM ends with its own error after the guest's first console lines is not retried", () => {
  const failure = {
    ...TRIPLE_FAULT_AT_BOOT,
    status: 1,
    vmmLog: "[vmm] ERROR virtio-blk: cannot read the image",
  };

  expect(retryReason("rig", failure, 1)).toBeUndefined();
});
