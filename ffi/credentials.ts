// A process's ids and capabilities through bun:ffi.
//
// The id setters are glibc's, not raw system calls: Linux keeps credentials per thread, and glibc's setresuid,
// setresgid and setgroups apply the change to every thread of the process (nptl's setxid broadcast, which aborts the
// process rather than leave threads with different ids). A Bun process runs runtime threads (JIT, GC helpers)
// beside the one running JavaScript, so a raw syscall would change the main thread only.
// Capabilities (capget/capset, prctl) and the parent-death signal are per thread: they act on the calling thread
// alone.
import { dlopen, FFIType, ptr } from "bun:ffi";
import { addressOf, errno, prctl, SysError, syscall } from "./libc.ts";

const lib = dlopen("libc.so.6", {
  setresuid: { args: [FFIType.u32, FFIType.u32, FFIType.u32], returns: FFIType.i32 },
  setresgid: { args: [FFIType.u32, FFIType.u32, FFIType.u32], returns: FFIType.i32 },
  setgroups: { args: [FFIType.u64, FFIType.ptr], returns: FFIType.i32 },
  getresuid: { args: [FFIType.ptr, FFIType.ptr, FFIType.ptr], returns: FFIType.i32 },
  getresgid: { args: [FFIType.ptr, FFIType.ptr, FFIType.ptr], returns: FFIType.i32 },
}).symbols;

function check(ret: number, call: string, what: string): void {
  if (ret < 0) throw new SysError(call, what, errno());
}

/** setresuid(2) on every thread: real, effective and saved uid all `uid`. */
export function setAllUids(uid: number): void {
  check(lib.setresuid(uid, uid, uid), "setresuid", `uid ${uid}`);
}

/** setresgid(2) on every thread: real, effective and saved gid all `gid`. */
export function setAllGids(gid: number): void {
  check(lib.setresgid(gid, gid, gid), "setresgid", `gid ${gid}`);
}

/** setgroups(0, NULL) on every thread: no supplementary groups. */
export function clearSupplementaryGroups(): void {
  check(lib.setgroups(0, null), "setgroups", "an empty list");
}

function getres(fn: typeof lib.getresuid, call: string): [number, number, number] {
  const ids = new Uint32Array(3);
  check(fn(ptr(ids), ptr(ids, 4), ptr(ids, 8)), call, "the calling thread");
  return [ids[0]!, ids[1]!, ids[2]!];
}

/** The calling thread's real, effective and saved uid. */
export function getResUid(): [number, number, number] {
  return getres(lib.getresuid, "getresuid");
}

/** The calling thread's real, effective and saved gid. */
export function getResGid(): [number, number, number] {
  return getres(lib.getresgid, "getresgid");
}

/** The signal the calling thread gets when its parent dies (PR_GET_PDEATHSIG; 0: none). */
export function parentDeathSignal(): number {
  const sig = new Int32Array(1);
  prctl(PR_GET_PDEATHSIG, addressOf(sig), 0, 0, 0, "PR_GET_PDEATHSIG");
  return sig[0]!;
}

/** PR_SET_PDEATHSIG: `signal` (0: none) for the calling thread when its parent dies. */
export function setParentDeathSignal(signal: number): void {
  prctl(PR_SET_PDEATHSIG, signal, 0, 0, 0, "PR_SET_PDEATHSIG");
}

// include/uapi/linux/capability.h
export const LINUX_CAPABILITY_VERSION_3 = 0x20080522;
export const CAP_SETPCAP = 8;
/** sizeof(struct __user_cap_header_struct) and of one struct __user_cap_data_struct (3 x u32). */
export const CAP_HEADER_BYTES = 8;
export const CAP_DATA_BYTES = 12;
// arch/x86/entry/syscalls/syscall_64.tbl
export const SYS_CAPGET = 125;
export const SYS_CAPSET = 126;
// include/uapi/linux/prctl.h
export const PR_SET_PDEATHSIG = 1;
export const PR_GET_PDEATHSIG = 2;
export const PR_CAPBSET_READ = 23;
export const PR_CAPBSET_DROP = 24;
export const PR_CAP_AMBIENT = 47;
export const PR_CAP_AMBIENT_CLEAR_ALL = 4;
/** Capabilities are numbered below 64 (two 32-bit words per set in _LINUX_CAPABILITY_VERSION_3). */
const CAP_WORDS_BITS = 64;

/**
 * The calling thread's capability sets: struct __user_cap_header_struct { u32 version; int pid; } and two struct
 * __user_cap_data_struct { u32 effective, permitted, inheritable; } (capabilities 0-31, then 32-63), so `data` is
 * [effective, permitted, inheritable] x 2.
 */
export interface CapabilitySets {
  readonly header: Uint32Array;
  readonly data: Uint32Array;
}

export function capget(): CapabilitySets {
  const header = Uint32Array.of(LINUX_CAPABILITY_VERSION_3, 0);
  const data = new Uint32Array((2 * CAP_DATA_BYTES) / 4);
  syscall(SYS_CAPGET, "capget", header, data);
  return { header, data };
}

export function capset(sets: CapabilitySets): void {
  syscall(SYS_CAPSET, "capset", sets.header, sets.data);
}

/** Whether `cap` is in the calling thread's bounding set (false past the kernel's last capability). */
export function inBoundingSet(cap: number): boolean {
  try {
    return prctl(PR_CAPBSET_READ, cap, 0, 0, 0, "PR_CAPBSET_READ") === 1;
  } catch {
    return false; // EINVAL: no such capability on this kernel
  }
}

/** Removes `cap` from the calling thread's bounding set (needs CAP_SETPCAP). */
export function dropFromBoundingSet(cap: number): void {
  if (inBoundingSet(cap)) prctl(PR_CAPBSET_DROP, cap, 0, 0, 0, "PR_CAPBSET_DROP");
}

/** Empties the calling thread's bounding set (needs CAP_SETPCAP; a no-op without it). */
export function emptyBoundingSet(): void {
  if ((capget().data[0]! & (1 << CAP_SETPCAP)) === 0) return;
  for (let cap = 0; cap < CAP_WORDS_BITS; cap++) dropFromBoundingSet(cap);
}

/** Empties the calling thread's ambient, effective, permitted and inheritable sets: nothing can raise them again. */
export function clearCapabilities(): void {
  prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0, "PR_CAP_AMBIENT_CLEAR_ALL");
  const { header, data } = capget();
  data.fill(0);
  capset({ header, data });
}

/** Whether the calling thread has no effective and no permitted capability. */
export function hasNoCapabilities(): boolean {
  const { data } = capget();
  return data[0] === 0 && data[1] === 0 && data[3] === 0 && data[4] === 0;
}
