// The open-file limit (RLIMIT_NOFILE) of a file-server device process. A FUSE or 9P server holds one descriptor
// for every inode the guest keeps (an O_PATH descriptor per node, src/devices/virtio/fs/inodes.ts), so a guest
// that creates 10,000 files in a directory needs as many: the default limit (INR_OPEN_MAX, 4096, in a boot
// without systemd) stops it at about 4,000 with EMFILE. Like crosvm's fs jail (set_rlimit(RLIMIT_NOFILE, max,
// max) in create_base_minijail) and virtiofsd (1,000,000 or /proc/sys/fs/nr_open when that is lower, "virtiofsd:
// set maximum RLIMIT_NOFILE limit"), the device raises it before it is confined; without CAP_SYS_RESOURCE it
// raises the soft limit to the hard one.
import { dlopen, FFIType, ptr } from "bun:ffi";
import { readFileSync } from "node:fs";

/** RLIMIT_NOFILE (include/uapi/asm-generic/resource.h). */
export const RLIMIT_NOFILE = 7;
/** virtiofsd's default target. */
export const WANTED_OPEN_FILES = 1_000_000;

const lib = dlopen("libc.so.6", {
  prlimit: { args: [FFIType.i32, FFIType.i32, FFIType.ptr, FFIType.ptr], returns: FFIType.i32 },
}).symbols;

export interface OpenFileLimit {
  readonly soft: number;
  readonly hard: number;
}

/** This process's RLIMIT_NOFILE (struct rlimit: u64 rlim_cur, u64 rlim_max). */
export function openFileLimit(): OpenFileLimit {
  const old = new BigUint64Array(2);
  if (lib.prlimit(0, RLIMIT_NOFILE, null, ptr(old)) !== 0) throw new Error("prlimit(RLIMIT_NOFILE) failed");
  return { soft: Number(old[0]), hard: Number(old[1]) };
}

function setOpenFileLimit(soft: number, hard: number): boolean {
  return lib.prlimit(0, RLIMIT_NOFILE, ptr(new BigUint64Array([BigInt(soft), BigInt(hard)])), null) === 0;
}

/** /proc/sys/fs/nr_open: the most RLIMIT_NOFILE may be (undefined when it cannot be read). */
function nrOpen(): number | undefined {
  try {
    const n = Number(readFileSync("/proc/sys/fs/nr_open", "utf8").trim());
    return Number.isSafeInteger(n) && n > 0 ? n : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Raises RLIMIT_NOFILE to min(WANTED_OPEN_FILES, `ceiling`) for soft and hard (never lowering the hard limit), or,
 * when that is not permitted, the soft limit to the hard one; returns the limit it ends with.
 */
export function raiseOpenFileLimit(ceiling = nrOpen() ?? WANTED_OPEN_FILES): OpenFileLimit {
  const now = openFileLimit();
  const target = Math.max(now.hard, Math.min(WANTED_OPEN_FILES, ceiling));
  if (target > now.soft && !setOpenFileLimit(target, target) && now.soft < now.hard)
    setOpenFileLimit(now.hard, now.hard);
  return openFileLimit();
}
