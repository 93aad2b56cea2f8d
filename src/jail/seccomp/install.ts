// Installs a compiled seccomp program on every thread of the current process (Workers included):
// prctl(PR_SET_NO_NEW_PRIVS, 1), then seccomp(SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC, &sock_fprog).
// There is no way back: after this, any syscall the program does not allow gets its action.
import { addressOf, prctl, syscall } from "../../../ffi/libc.ts";
import { BPF_MAXINSNS, SECCOMP_FILTER_FLAG_TSYNC, SECCOMP_SET_MODE_FILTER, SOCK_FILTER_SIZE } from "./bpf.ts";

// include/uapi/linux/prctl.h
const PR_SET_NO_NEW_PRIVS = 38;
// arch/x86/entry/syscalls/syscall_64.tbl
const SYS_SECCOMP = 317;
// struct sock_fprog (include/uapi/linux/filter.h): unsigned short len at 0, padding, struct sock_filter *filter at 8.
const SOCK_FPROG_SIZE = 16;

export class SeccompInstallError extends Error {
  override name = "SeccompInstallError";
}

/** struct sock_fprog pointing at `filter`; the caller keeps `filter` alive while the kernel reads it. */
export function sockFprog(filter: Uint8Array): Uint8Array {
  const fprog = new Uint8Array(SOCK_FPROG_SIZE);
  const dv = new DataView(fprog.buffer);
  dv.setUint16(0, filter.length / SOCK_FILTER_SIZE, true);
  dv.setBigUint64(8, BigInt(addressOf(filter)), true);
  return fprog;
}

/**
 * Puts the whole process under `program` (struct sock_filter bytes from the compiler).
 * `name` names the policy in errors, e.g. "block_device".
 */
export function installSeccompFilter(program: Uint8Array, name: string): void {
  const count = program.length / SOCK_FILTER_SIZE;
  if (program.length === 0 || !Number.isInteger(count) || count > BPF_MAXINSNS) {
    throw new SeccompInstallError(
      `seccomp policy ${name}: ${program.length} bytes is not 1..${BPF_MAXINSNS} sock_filter instructions`,
    );
  }
  // The kernel refuses a filter from an unprivileged process unless no_new_privs is set (seccomp(2)).
  prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0, "PR_SET_NO_NEW_PRIVS");
  // Copy so the bytes cannot move or be collected while the kernel copies them.
  const filter = new Uint8Array(program);
  const fprog = sockFprog(filter);
  const ret = syscall(
    SYS_SECCOMP,
    `seccomp(SECCOMP_SET_MODE_FILTER) with policy ${name}`,
    SECCOMP_SET_MODE_FILTER,
    SECCOMP_FILTER_FLAG_TSYNC,
    fprog,
  );
  // With TSYNC, a positive return is the id of a thread that could not be synchronized (seccomp(2)).
  if (ret > 0) {
    throw new SeccompInstallError(`seccomp policy ${name}: thread ${ret} could not be put under the filter`);
  }
  // Keep both buffers reachable until after the call returns.
  void filter.length;
  void fprog.length;
}
