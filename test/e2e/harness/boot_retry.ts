// Which failed boots the harness tries again. The nested rig (QEMU/TCG emulating AMD-V) now and then loses a
// boot for reasons of its own, with QEMU as the nested VMM as well as ours: the nested guest resets before it
// prints a single console line, or the outer VM goes away or stops answering its control agent (its kernel once
// deadlocked in the 8250 driver on an interrupt the emulated CPU delivered with interrupts disabled; rig.ts
// abandons such a rig).
// A retry needs that evidence: the guest reset (the VMM exited with a reset status before any console output),
// or the rig wedged (the outer VM went away, or did not answer its control agent when the boot hung). A boot
// that hangs while the rig still answers is the VMM's to explain and fails the test, as does a boot the VMM ends
// after the guest printed something, and every failure in direct mode. Each retry is said on stderr with its
// saved logs.

export type BootFailure =
  /** The VMM exited before the agent was ready; `consoleBytes` is what the guest printed by then. */
  | { kind: "exited"; status: number; consoleBytes: number }
  /**
   * The agent's ready line did not come within the attempt's time. `hostAnswers`: whether what hosts the VMM
   * (the outer rig VM's control agent; the host itself in direct mode) still answered a command afterwards.
   */
  | { kind: "hang"; timeoutMs: number; hostAnswers: boolean }
  /** What hosts the VMM (the outer rig VM) went away; `cause` says how. */
  | { kind: "host-gone"; cause: string };

/** At most this many boots per TestVm.boot in rig mode (the first and two retries). */
export const RIG_BOOT_ATTEMPTS = 3;

/** A test or hook that boots one guest: every rig attempt (up to 120 s each) and a rig restart fit in it. */
export const BOOT_HOOK_TIMEOUT_MS = 480_000;

/**
 * Exit statuses of a guest reset: 0 (crosvm's plain status, and QEMU's with -no-reboot) and 32 (crosvm's
 * --extended-status). A VMM that refuses its arguments exits with something else, and is not retried.
 */
const RESET_STATUSES = new Set([0, 32]);

/** Why this failure is worth another attempt, or undefined when it is the test's to see. */
export function retryReason(
  mode: "direct" | "rig",
  failure: BootFailure,
  attempt: number,
): string | undefined {
  if (mode !== "rig" || attempt >= RIG_BOOT_ATTEMPTS) return undefined;
  switch (failure.kind) {
    case "exited":
      return failure.consoleBytes === 0 && RESET_STATUSES.has(failure.status)
        ? `the guest reset before its first console line (VMM status ${failure.status})`
        : undefined;
    case "hang":
      return failure.hostAnswers
        ? undefined
        : `the guest agent was not ready within ${failure.timeoutMs} ms and the outer rig VM stopped answering`;
    case "host-gone":
      return `the outer rig VM went away (${failure.cause})`;
  }
}

/** What crosvm logs when a vCPU exits with KVM_EXIT_SHUTDOWN (vcpu_loop.ts): the guest's CPU reset itself. */
const TRIPLE_FAULT = /triple fault \(KVM_EXIT_SHUTDOWN\)/;
/** What crosvm logs when the guest resets itself through the ACPI reset register or the i8042 (after a panic). */
const GUEST_RESET = /the guest requested a reset/;
/**
 * The guest kernel's double-fault handler (arch/x86/kernel/traps.c exc_double_fault, pr_fmt "traps: "): a fault
 * while the CPU delivered another one. The guest's panic=-1 then resets it.
 */
const GUEST_DOUBLE_FAULT = /traps: PANIC: double fault/;

/** What a VMM that exited in the middle of a test left behind: its status, its log and the guest's console. */
export interface MidTestExit {
  status: number;
  vmmLog: string;
  console: string;
}

/**
 * Why a VMM that exited in the middle of a test counts as the rig losing it, or undefined when the test must see
 * it. In the rig, the nested guest's CPU fails to deliver its own faults at random points: it resets (a triple
 * fault, with no error of the VMM before it) before a first console line (retryReason) and in tests that share
 * nothing (a SCSI read, a ping, a balloon inflate), more often while the outer kernel takes pages out from under
 * a running guest; one level lower, the guest kernel catches a double fault (a #PF on the first instruction of
 * entry_SYSCALL_64, in fio's start-up, CI on 2026-12-07), panics and resets. That is the emulated AMD-V's, as at
 * boot; where the host has hardware virtualization either is the test's.
 */
export function midTestRigLoss(mode: "direct" | "rig", exit: MidTestExit): string | undefined {
  if (mode !== "rig" || !RESET_STATUSES.has(exit.status)) return undefined;
  if (TRIPLE_FAULT.test(exit.vmmLog)) {
    return "the nested guest reset (triple fault, KVM_EXIT_SHUTDOWN) in the middle of a test";
  }
  if (GUEST_RESET.test(exit.vmmLog) && GUEST_DOUBLE_FAULT.test(exit.console)) {
    return "the nested guest's kernel caught a double fault, panicked and reset in the middle of a test";
  }
  return undefined;
}

export function describeFailure(failure: BootFailure): string {
  switch (failure.kind) {
    case "exited":
      return `the VMM exited with ${failure.status} before the guest agent was ready`;
    case "hang":
      return `the guest agent was not ready within ${failure.timeoutMs} ms${failure.hostAnswers ? " (the rig still answered: not the rig's fault)" : ""}`;
    case "host-gone":
      return `the outer rig VM went away during the boot: ${failure.cause}`;
  }
}
