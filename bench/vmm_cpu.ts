// The CPU time a VMM's processes (the VMM and its device processes: every process whose executable is the VMM's)
// spent, read from /proc/PID/stat where the VMM runs, so that a benchmark can show where a figure's time went.
// proc(5): field 14 utime and 15 stime, 43 guest_time (part of utime: the vCPUs running the guest), in clock ticks.

export interface VmmCpu {
  /** User space outside the guest (utime - guest_time), in seconds. */
  userS: number;
  /** The kernel on the processes' behalf (stime), in seconds. */
  kernelS: number;
  /** The vCPUs running guest code (guest_time), in seconds. */
  guestS: number;
}

/** USER_HZ, the unit of /proc/PID/stat times on x86-64 (sysconf(_SC_CLK_TCK)). */
export const CLOCK_TICKS_PER_SECOND = 100;

/**
 * A shell line printing "utime stime guest_time", summed in ticks over the processes running `exe`. The fields are
 * counted after the ") " that ends the command name (which may hold spaces): field N is then awk's $(N - 2).
 */
export function vmmCpuScript(exe: string): string {
  return (
    `for p in /proc/[0-9]*; do [ "$(readlink $p/exe 2> /dev/null)" = "${exe}" ] && sed 's/.*) //' $p/stat; done | ` +
    "awk '{ u += $12; s += $13; g += $41 } END { print u + 0, s + 0, g + 0 }'"
  );
}

/** The time spent between two of vmmCpuScript's lines, "utime stime guest_time" each. */
export function vmmCpuBetween(before: string, after: string): VmmCpu {
  const ticks = (line: string) => {
    const match = /^(\d+) (\d+) (\d+)$/.exec(line.trim());
    if (!match)
      throw new Error(`VMM CPU: expected "UTIME STIME GUEST_TIME", got ${JSON.stringify(line.trim())}`);
    return [Number(match[1]), Number(match[2]), Number(match[3])] as const;
  };
  const [u0, s0, g0] = ticks(before);
  const [u1, s1, g1] = ticks(after);
  return {
    userS: (u1 - g1 - (u0 - g0)) / CLOCK_TICKS_PER_SECOND,
    kernelS: (s1 - s0) / CLOCK_TICKS_PER_SECOND,
    guestS: (g1 - g0) / CLOCK_TICKS_PER_SECOND,
  };
}
