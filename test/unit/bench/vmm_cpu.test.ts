// bench/vmm_cpu.ts: the VMM's CPU time from /proc/PID/stat, as bench/vsock prints it beside each stream.
import { describe, expect, test } from "bun:test";
import { realpathSync } from "node:fs";
import { vmmCpuBetween, vmmCpuScript } from "../../../bench/vmm_cpu.ts";

describe("vmmCpuScript", () => {
  test("sums utime, stime and guest_time of the processes running the executable (here bun, no guest)", () => {
    const script = vmmCpuScript(realpathSync(process.execPath));

    const out = Bun.spawnSync(["sh", "-c", script], { stdout: "pipe" }).stdout.toString();

    const [utime, stime, guest] = out.trim().split(" ").map(Number);
    expect(out).toMatch(/^\d+ \d+ \d+\n$/);
    expect(utime! + stime!).toBeGreaterThan(0);
    expect(guest).toBe(0);
  });

  test("prints zeros when no process runs the executable", () => {
    const out = Bun.spawnSync(["sh", "-c", vmmCpuScript("/nonexistent/vmm")], { stdout: "pipe" });

    expect(out.stdout.toString()).toBe("0 0 0\n");
  });
});

describe("vmmCpuBetween", () => {
  test("splits the ticks between two samples into user space outside the guest, kernel and guest seconds", () => {
    const cpu = vmmCpuBetween("100 50 40\n", "400 80 290\n");

    expect(cpu).toEqual({ userS: 0.5, kernelS: 0.3, guestS: 2.5 });
  });

  test("refuses a sample that is not three numbers, quoting it", () => {
    expect(() => vmmCpuBetween("1 2", "1 2 3")).toThrow(
      'VMM CPU: expected "UTIME STIME GUEST_TIME", got "1 2"',
    );
  });
});
