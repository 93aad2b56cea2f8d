// /proc readers for the tests that check which processes a VMM runs and how they are confined.
import { readdirSync, readFileSync } from "node:fs";

/** Pids whose parent is `pid`. */
export function children(pid: number): number[] {
  const out: number[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (ppid === pid) out.push(Number(name));
    } catch {}
  }
  return out;
}

export function descendants(pid: number): number[] {
  return children(pid).flatMap((c) => [c, ...descendants(c)]);
}

/** The device processes under the VMM `vmmPid` (not their unshare(1) launchers), with their command lines. */
export function deviceProcesses(vmmPid: number): { pid: number; cmdline: string }[] {
  return descendants(vmmPid)
    .map((pid) => ({ pid, cmdline: readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ") }))
    .filter((p) => p.cmdline.includes("device-process") && !p.cmdline.includes("unshare"));
}

/** A field of /proc/PID/status ("Seccomp", "NoNewPrivs", ...). */
export function statusField(pid: number | "self", field: string): string | undefined {
  return readFileSync(`/proc/${pid}/status`, "utf8")
    .split("\n")
    .find((l) => l.startsWith(`${field}:`))
    ?.split(/\s+/)[1];
}
