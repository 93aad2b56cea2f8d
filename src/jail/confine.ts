// Confinement of a device process, in the order crosvm's minijail applies it, before the device touches guest
// data: close every descriptor it was not given, no_new_privs, namespaces, a pivot into an empty directory, the ids
// a device asked to run as (run_as.ts), and last the seccomp filter (SECCOMP_FILTER_FLAG_TSYNC, so every Bun
// thread is covered).
//
// Namespaces are per thread in Linux: unshare(2) moves only the calling thread, and a Bun process already runs
// JavaScriptCore's and Bun's own threads before any script starts. So the namespaces are entered by the launcher
// (util-linux unshare(1) exec'ing Bun, spawn.ts) and every thread starts inside them; here we only record them.
// A new PID namespace also needs a fork (unshare(CLONE_NEWPID) affects only children), which `unshare --fork`
// does: the device process is pid 1 of its namespace, and its launcher forwards the signal that ended it.
//
// Every step is mandatory: one that cannot be applied throws SandboxError and the device process exits before it
// says Hello, so the VMM stops instead of running a device confined less than asked. spawn.ts refuses the usual
// causes (no pivot directory, no namespaces) before it starts anything; this is the last line.
import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import { close, prctl, SysError, syscall } from "../../ffi/libc.ts";
import { logger } from "../base/log.ts";
import { checkPivotRoot, DEVICE_NAMESPACES, SandboxError } from "./sandbox_launcher.ts";
import { applyRunAs, planRunAs, type RunAs } from "./run_as.ts";
import { installSeccompFilter } from "./seccomp/install.ts";
import { X86_64_SYSCALLS } from "./seccomp/syscall_table.ts";

const log = logger("jail");

// include/uapi/linux/prctl.h
export const PR_SET_NO_NEW_PRIVS = 38;
// include/uapi/linux/mount.h
export const MS_BIND = 0x1000;
export const MS_MOVE = 0x2000;
export const MS_REC = 0x4000;
export const MS_PRIVATE = 1 << 18;
// include/linux/fs.h (umount2 flags)
export const MNT_DETACH = 2;

/** Descriptors Bun's runtime opens for itself before any script runs (its event loop's epoll and wakeup fds). */
const RUNTIME_FD = /^anon_inode:\[(eventpoll|eventfd|timerfd|signalfd)\]$/;

/** The steps after closeUnlistedFds, which the device process runs first (before it opens its own files). */
export interface ConfineOptions {
  /** Namespaces the launcher entered (DEVICE_NAMESPACES, and "user" when not root). */
  readonly namespaces: readonly string[];
  /** Empty directory to pivot into. */
  readonly pivotRoot: string;
  /** Compiled program and its policy name; installed last. */
  readonly seccomp: { readonly program: Uint8Array; readonly policy: string };
  /** Host ids to run as after the pivot (run_as.ts; --shared-dir uid/gid); absent: the launcher's. */
  readonly runAs?: RunAs;
}

export interface ConfineReport {
  readonly applied: string[];
}

function fdTarget(fd: number): string | undefined {
  try {
    return readlinkSync(`/proc/self/fd/${fd}`);
  } catch {
    return undefined;
  }
}

/**
 * Closes every open descriptor except 0..2, `keep` and Bun's own runtime descriptors (its event loop's, and the
 * duplicates of 0..2 its stdio writers make); returns those closed.
 */
export function closeUnlistedFds(keep: readonly number[], leaked: readonly number[] = []): number[] {
  const keepSet = new Set(keep);
  const leakedSet = new Set(leaked.filter((fd) => !keepSet.has(fd)));
  const stdio = new Set([0, 1, 2].map(fdTarget).filter((t) => t !== undefined));
  const closed: number[] = [];
  for (const name of readdirSync("/proc/self/fd")) {
    const fd = Number(name);
    if (!Number.isInteger(fd) || fd <= 2 || keepSet.has(fd)) continue;
    const target = fdTarget(fd);
    if (target === undefined) continue; // the directory descriptor readdirSync used, already closed
    if (!leakedSet.has(fd) && (RUNTIME_FD.test(target) || stdio.has(target))) continue;
    try {
      close(fd);
      closed.push(fd);
    } catch (e) {
      log.debug(`closing fd ${fd} (${target}): ${(e as Error).message}`);
    }
  }
  return closed;
}

function sys(name: string, ...args: (number | Uint8Array)[]): void {
  const nr = X86_64_SYSCALLS[name];
  if (nr === undefined) throw new Error(`no x86-64 syscall named ${name}`);
  syscall(nr, name, ...args);
}

const cstr = (s: string) => new Uint8Array(Buffer.from(`${s}\0`));

/** The file system type of the mount at "/" (from /proc/self/mountinfo: "... / ... - FSTYPE SOURCE ..."). */
export function rootFsType(mountinfo = readFileSync("/proc/self/mountinfo", "utf8")): string | undefined {
  for (const line of mountinfo.split("\n")) {
    const [left, right] = line.split(" - ");
    if (left?.split(" ")[4] === "/" && right) return right.split(" ")[0];
  }
  return undefined;
}

/**
 * mount(NULL, "/", NULL, MS_REC|MS_PRIVATE), bind `dir` on itself, pivot_root(".", "."), detach the old root.
 * Returns how the root was changed: "pivot_root", or "move+chroot" on an initramfs.
 */
export function pivotInto(dir: string): "pivot_root" | "move+chroot" {
  const rootfs = rootFsType() === "rootfs"; // read while /proc is still in reach
  sys("mount", 0, cstr("/"), 0, MS_REC | MS_PRIVATE, 0);
  sys("mount", cstr(dir), cstr(dir), 0, MS_BIND | MS_REC, 0);
  sys("chdir", cstr(dir));
  if (rootfs) {
    // pivot_root(2) fails with EINVAL when the current root is the rootfs (initial ramfs), as on a system that runs
    // from its initramfs (the e2e rig's outer VM). switch_root's way instead: move the new root over "/" and chroot
    // into it. The old root stays mounted underneath, out of reach: no descriptor leads there (closeUnlistedFds),
    // and chroot, mount and open are denied by every device policy.
    sys("mount", cstr("."), cstr("/"), 0, MS_MOVE, 0);
    sys("chroot", cstr("."));
    sys("chdir", cstr("/"));
    return "move+chroot";
  }
  // pivot_root(".", "."): the old root is stacked under the new one and detached next (pivot_root(2) NOTES).
  sys("pivot_root", cstr("."), cstr("."));
  sys("umount2", cstr("."), MNT_DETACH);
  sys("chdir", cstr("/"));
  return "pivot_root";
}

function reason(e: unknown): string {
  return e instanceof SysError ? e.code : (e as Error).message;
}

/** Applies the steps after closing descriptors; throws SandboxError (or the seccomp error) when one cannot be. */
export function confine(o: ConfineOptions): ConfineReport {
  // What can be checked without changing anything comes first.
  const missing = DEVICE_NAMESPACES.filter((ns) => !o.namespaces.includes(ns));
  if (missing.length)
    throw new SandboxError(`sandbox: the launcher did not enter the ${missing.join(", ")} namespace(s)`);
  checkPivotRoot(o.pivotRoot);
  const runAs = o.runAs && planRunAs(o.runAs); // reads /proc, which the pivot takes away
  const applied = o.namespaces.map((ns) => `${ns}-namespace`);

  try {
    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0, "PR_SET_NO_NEW_PRIVS");
  } catch (e) {
    throw new SandboxError(`sandbox: no_new_privs cannot be set: ${reason(e)}`);
  }
  applied.push("no-new-privs");

  try {
    applied.push(`pivot-root ${o.pivotRoot} (${pivotInto(o.pivotRoot)})`);
  } catch (e) {
    throw new SandboxError(`sandbox: pivot into ${o.pivotRoot} failed: ${(e as Error).message}`);
  }

  if (runAs) applied.push(applyRunAs(runAs));

  installSeccompFilter(o.seccomp.program, o.seccomp.policy);
  applied.push(`seccomp ${o.seccomp.policy}`);
  return { applied };
}
