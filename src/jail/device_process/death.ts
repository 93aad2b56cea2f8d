// Why a device process ended, in one line for the VMM's error: "device virtio-rng (pid 1234) died: killed by
// SIGSYS (seccomp: syscall 83 mkdir)". A seccomp kill (SECCOMP_RET_KILL_PROCESS) is reported by the kernel as an
// audit record, type=1326 (AUDIT_SECCOMP, include/uapi/linux/audit.h), which reaches the kernel log when no audit
// daemon takes it: "audit: type=1326 ... pid=1234 ... sig=31 ... syscall=83 ...". We read /dev/kmsg for the
// record of that pid; when it cannot be found (no permission, audit off, ratelimited) the syscall is "unknown",
// never guessed.
import { O_CLOEXEC, O_NONBLOCK, O_RDONLY, SysError, close, open, read } from "../../../ffi/libc.ts";
import { X86_64_SYSCALLS } from "../seccomp/syscall_table.ts";

/** AUDIT_SECCOMP, include/uapi/linux/audit.h. */
export const AUDIT_SECCOMP = 1326;
/** Largest /dev/kmsg record (kernel/printk: a read buffer smaller than the record fails with EINVAL). */
const KMSG_RECORD_MAX = 8192;

const syscallNames = new Map(Object.entries(X86_64_SYSCALLS).map(([name, nr]) => [nr, name]));

/** The syscall number in the last seccomp audit record for `pid` in `log` (kernel log text), if any. */
export function seccompSyscallFromLog(log: string, pid: number): number | undefined {
  let found: number | undefined;
  const re = new RegExp(`type=${AUDIT_SECCOMP}\\b[^\\n]*?\\bpid=${pid}\\b[^\\n]*?\\bsyscall=(\\d+)`, "g");
  for (const m of log.matchAll(re)) found = Number(m[1]);
  return found;
}

/** Every record currently in the kernel log ring, or undefined when /dev/kmsg cannot be read. */
export function readKernelLog(): string | undefined {
  let fd: number;
  try {
    fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  } catch {
    return undefined;
  }
  const buf = new Uint8Array(KMSG_RECORD_MAX);
  const lines: string[] = [];
  try {
    for (;;) {
      try {
        const n = read(fd, buf, "/dev/kmsg");
        if (n === 0) break;
        lines.push(Buffer.from(buf.subarray(0, n)).toString("utf8"));
      } catch (e) {
        // EPIPE: records were overwritten under us; the next read continues. EAGAIN: the end.
        if (e instanceof SysError && e.code === "EPIPE") continue;
        break;
      }
    }
  } finally {
    close(fd);
  }
  return lines.join("");
}

/** "syscall 83 mkdir", or "syscall unknown" when no audit record for `pid` shows up within `waitMs`. */
export async function describeSeccompKill(pid: number, waitMs = 500): Promise<string> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    const log = readKernelLog();
    const nr = log === undefined ? undefined : seccompSyscallFromLog(log, pid);
    if (nr !== undefined) return `syscall ${nr} ${syscallNames.get(nr) ?? "(unnamed)"}`;
    // The audit record is printed by kauditd, a little after the kill.
    if (log === undefined || Date.now() >= deadline) return "syscall unknown";
    await Bun.sleep(20);
  }
}

export interface ExitInfo {
  readonly exitCode: number | null;
  readonly signalCode: string | number | null;
}

/** The cause part of the message: "killed by SIGSYS (seccomp: syscall 83 mkdir)", "exited with status 1". */
export async function describeExit(pid: number, exit: ExitInfo): Promise<string> {
  if (exit.signalCode) {
    if (exit.signalCode === "SIGSYS" || exit.signalCode === 31)
      return `killed by SIGSYS (seccomp: ${await describeSeccompKill(pid)})`;
    return `killed by ${exit.signalCode}`;
  }
  return `exited with status ${exit.exitCode ?? "unknown"}`;
}

export function deathMessage(label: string, pid: number, cause: string): string {
  return `device ${label} (pid ${pid}) died: ${cause}`;
}
