// Which failed boots the harness tries again. The nested rig (QEMU/TCG emulating AMD-V) now and then loses a
// boot for reasons of its own, with QEMU as the nested VMM as well as ours: the nested guest resets before it
// prints a single console line, or the outer VM goes away or stops answering its control agent (its kernel once
// deadlocked in the 8250 driver on an interrupt the emulated CPU delivered with interrupts disabled; rig.ts
// abandons such a rig).
// A retry needs that evidence: the guest reset (the VMM exited with a reset status before any console output, or
// after it with the log of a triple fault or the console of a double-fault panic, as midTestRigLoss counts them),
// the rig wedged (the outer VM went away, or did not answer its control agent when the boot hung), or the hung
// guest's CPU is stuck walking page tables that lead out of its RAM (guestPageWalkStorm). A boot that hangs
// otherwise while the rig still answers is the VMM's to explain and fails the test, as does a boot the VMM ends
// otherwise after the guest printed something, and every failure in direct mode. Each retry is said on stderr with its
// saved logs.

export type BootFailure =
  /**
   * The VMM exited before the agent was ready; `consoleBytes` is what the guest printed by then, `vmmLog` and
   * `console` (when read) the VMM's log and the guest's console.
   */
  | { kind: "exited"; status: number; consoleBytes: number; vmmLog?: string; console?: string }
  /**
   * The agent's ready line did not come within the attempt's time. `hostAnswers`: whether what hosts the VMM
   * (the outer rig VM's control agent; the host itself in direct mode) still answered a command afterwards;
   * `report`: the hung VMM's process report with its one-second KVM trace (process_report.ts), when taken.
   */
  | { kind: "hang"; timeoutMs: number; hostAnswers: boolean; report?: string }
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
    case "exited": {
      if (failure.consoleBytes === 0 && RESET_STATUSES.has(failure.status))
        return `the guest reset before its first console line (VMM status ${failure.status})`;
      const reset =
        failure.vmmLog === undefined
          ? undefined
          : rigReset({ status: failure.status, vmmLog: failure.vmmLog, console: failure.console ?? "" });
      return reset && `${reset} during its boot`;
    }
    case "hang": {
      if (!failure.hostAnswers)
        return `the guest agent was not ready within ${failure.timeoutMs} ms and the outer rig VM stopped answering`;
      const storm = failure.report === undefined ? undefined : guestPageWalkStorm(failure.report);
      return storm && `the guest agent was not ready within ${failure.timeoutMs} ms: ${storm}`;
    }
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
  const reset = mode === "rig" ? rigReset(exit) : undefined;
  return reset && `${reset} in the middle of a test`;
}

/**
 * How the nested guest reset itself, when it did so in one of the rig's ways (a triple fault, or a double-fault
 * panic); undefined otherwise. The same at boot (retryReason, also after the first console lines: one boot
 * triple-faulted 3 ms into its kernel's start, CI run on 2026-12-07) as in the middle of a test.
 */
function rigReset(exit: MidTestExit): string | undefined {
  if (!RESET_STATUSES.has(exit.status)) return undefined;
  if (TRIPLE_FAULT.test(exit.vmmLog)) return "the nested guest reset (triple fault, KVM_EXIT_SHUTDOWN)";
  if (GUEST_RESET.test(exit.vmmLog) && GUEST_DOUBLE_FAULT.test(exit.console))
    return "the nested guest's kernel caught a double fault, panicked and reset";
  return undefined;
}

/**
 * Bits of the page-fault error code KVM traces for a nested page fault (arch/x86/include/asm/kvm_host.h):
 * PFERR_RSVD_MASK, the nested page table entry has reserved bits set, which KVM sets only in the entries it keeps
 * for guest-physical addresses outside RAM (MMIO); PFERR_GUEST_PAGE_MASK, the access was the guest CPU's walk of
 * its own page tables.
 */
const PFERR_RSVD = 1n << 3n;
const PFERR_GUEST_PAGE = 1n << 33n;
/** Faults of one kind at one instruction in the trace's one second that make a storm rather than a guest at work. */
const STORM_FAULTS = 1000;
/** A kvm_page_fault line of the report: count, then Linux 6.1's TP_printk ("vcpu %u rip 0x%lx address ..."). */
const PAGE_FAULT_LINE = /^\s*(\d+) vcpu \d+ rip (0x[0-9a-f]+) address (0x[0-9a-f]+) error_code (0x[0-9a-f]+)/;

/**
 * Why a hung nested guest counts as the rig's, or undefined: its CPU faults over and over on one instruction,
 * walking page tables that lead to a guest-physical address outside RAM. No guest keeps page tables outside RAM,
 * so its page tables hold garbage. In the rig on 2026-12-07 this came three times, each at the same place: an
 * instruction at offset 0x20c of a module's page, reading entry 508 (offset 0xfe0) of a table outside RAM. Twice
 * with our VMM (a balloon deflate, busybox guest, table at 0x27e46000; a Debian boot with -c 2 and no balloon load,
 * table at 0x7fe16000) and once with QEMU as the nested VMM (a balloon loop, table at 0x7ebfc000): the emulated
 * AMD-V's, as the resets are. Where the host has hardware virtualization it is the test's (the caller checks the
 * mode).
 */
export function guestPageWalkStorm(report: string): string | undefined {
  for (const line of report.split("\n")) {
    const m = PAGE_FAULT_LINE.exec(line);
    if (!m || Number(m[1]) < STORM_FAULTS) continue;
    const code = BigInt(m[4]!);
    if ((code & PFERR_RSVD) === 0n || (code & PFERR_GUEST_PAGE) === 0n) continue;
    return `the nested guest's CPU walked its page tables to ${m[3]}, outside its RAM, ${m[1]} times in one second at rip ${m[2]} (its page tables hold garbage)`;
  }
  return undefined;
}

/** Why a guest that stopped answering in the middle of a test counts as the rig losing it (its process report). */
export function midTestRigHang(mode: "direct" | "rig", report: string): string | undefined {
  return mode === "rig" ? guestPageWalkStorm(report) : undefined;
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
