// flock(2) for disk image locks and strerror(3) for messages that read like the shell's ("No such file or
// directory"). A file of its own over libc, so disk code needs nothing else from the big binding.
import { dlopen, FFIType, type Pointer, CString } from "bun:ffi";
import { SysError, errno } from "./libc.ts";

const lib = dlopen("libc.so.6", {
  flock: { args: [FFIType.i32, FFIType.i32], returns: FFIType.i32 },
  strerror: { args: [FFIType.i32], returns: FFIType.ptr },
});

/** include/uapi/asm-generic/fcntl.h: LOCK_SH 1, LOCK_EX 2, LOCK_NB 4, LOCK_UN 8. */
export const LOCK_SH = 1;
export const LOCK_EX = 2;
export const LOCK_NB = 4;
export const LOCK_UN = 8;

/** flock(2); throws SysError (EWOULDBLOCK reads "EAGAIN" on Linux) when the lock is held elsewhere with LOCK_NB. */
export function flock(fd: number, operation: number, what: string): void {
  if (lib.symbols.flock(fd, operation) < 0) throw new SysError("flock", what, errno());
}

/** The C library's text for an errno value, e.g. 2 -> "No such file or directory". */
export function strerror(errnoValue: number): string {
  const p = lib.symbols.strerror(errnoValue) as Pointer | null;
  return p ? new CString(p).toString() : `errno ${errnoValue}`;
}
