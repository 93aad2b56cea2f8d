// Issue 13 item 3 end to end: virtio-balloon with a Debian guest, one boot. The guest first dirties most of its
// free memory (so the host holds it), then `crosvm balloon` to half the RAM takes free pages from the guest and
// gives them back to the host (the device punches them out of the guest-RAM memfd): the guest's MemFree and the
// host-side PSS of guest RAM (the VMM's memfd mappings, where KVM maps every page the guest touched) both drop by
// at least 80% of the inflated amount; `crosvm balloon 0` deflates and the guest gets its memory back;
// `crosvm balloon_stats` reports the guest's own figures. Control commands run where the VMM runs.
// Run alone: bun test test/e2e/balloon.test.ts
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { BOOT_HOOK_TIMEOUT_MS } from "./harness/boot_retry.ts";
import { shellCommand } from "./harness/shell.ts";
import { endTestFile, execWhereVmmRuns, TestVm } from "./harness/test_vm.ts";
import { controlSocketPath, crosvmControl } from "./harness/vmm_control.ts";

const MIB = 1024 * 1024;
const MEM_MIB = 512;
const HALF = (MEM_MIB / 2) * MIB;
const EXEC = { timeoutMs: 60_000 };
/** The nested TCG guest inflates 64k pages in batches of 256: allow it time. */
const SETTLE_MS = 180_000;

afterAll(endTestFile, 60_000);

/** A field of the guest's /proc/meminfo, in bytes. */
async function meminfo(vm: TestVm, field: string): Promise<number> {
  const { stdout } = await vm.exec(`grep '^${field}:' /proc/meminfo`, EXEC);
  const kib = Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(stdout)?.[1]);
  if (!Number.isFinite(kib)) throw new Error(`no ${field} in ${stdout}`);
  return kib * 1024;
}

/**
 * The pid of the VMM whose command line has `socket` as an argument (a device process's does not), where it runs.
 * The shell running this has the socket in one argument with the rest of the script, so it does not match.
 */
async function vmmPid(socket: string): Promise<number> {
  const script = [
    "for p in /proc/[0-9]*; do",
    `  tr '\\0' '\\n' < $p/cmdline 2> /dev/null | grep -qxF ${shellCommand([socket])} && echo \${p#/proc/}`,
    "done",
  ].join("\n");
  const { stdout } = await execWhereVmmRuns(script, EXEC);
  const pids = stdout.split("\n").filter(Boolean).map(Number);
  if (pids.length !== 1) throw new Error(`expected one VMM with ${socket}, found pids [${pids.join(", ")}]`);
  return pids[0]!;
}

/** PSS of the VMM's guest-RAM mappings (/memfd:crosvm_guest in /proc/PID/smaps), in bytes. */
async function guestRamPss(pid: number): Promise<number> {
  const awk =
    "/^[0-9a-f]+-[0-9a-f]+ / { g = ($6 ~ /^\\/memfd:crosvm_guest/) } g && /^Pss:/ { s += $2 } END { print s + 0 }";
  const { stdout, exitCode } = await execWhereVmmRuns(`awk '${awk}' /proc/${pid}/smaps`, EXEC);
  if (exitCode !== 0) throw new Error(`reading /proc/${pid}/smaps failed`);
  return Number(stdout.trim()) * 1024;
}

interface StatsJson {
  BalloonStats: { stats: Record<string, number | null>; balloon_actual: number };
}

async function balloonStats(socket: string): Promise<StatsJson["BalloonStats"]> {
  const r = await crosvmControl(["balloon_stats", socket], 60_000);
  if (r.exitCode !== 0) throw new Error(`balloon_stats failed: ${r.stderr}`);
  return (JSON.parse(r.stdout) as StatsJson).BalloonStats;
}

/** Polls balloon_stats until balloon_actual is `bytes`; returns the last answer. */
async function waitForActual(socket: string, bytes: number): Promise<StatsJson["BalloonStats"]> {
  const deadline = Date.now() + SETTLE_MS;
  for (;;) {
    const s = await balloonStats(socket);
    if (s.balloon_actual === bytes || Date.now() > deadline) return s;
    await Bun.sleep(2000);
  }
}

describe(`a ${MEM_MIB} MiB guest with the default balloon`, () => {
  let vm: TestVm;
  let socket: string;
  let pid: number;
  afterAll(() => vm?.stop());

  beforeAll(async () => {
    socket = controlSocketPath("balloon-vm.sock");
    vm = await TestVm.boot({ mem: MEM_MIB, cmdline: "quiet", vmmArgs: ["-s", socket] });
    pid = await vmmPid(socket);
  }, BOOT_HOOK_TIMEOUT_MS);

  test("the guest binds virtio_balloon to a virtio device of type 5", async () => {
    const { stdout } = await vm.exec(
      "for d in /sys/bus/virtio/devices/*; do echo $(cat $d/device) $(basename $(readlink $d/driver)); done",
      EXEC,
    );

    expect(stdout).toContain("0x0005 virtio_balloon");
  });

  test("balloon_stats reports the guest's own memory figures and an empty balloon", async () => {
    const total = await meminfo(vm, "MemTotal");

    const s = await balloonStats(socket);

    expect(s.balloon_actual).toBe(0);
    expect(s.stats.total_memory).toBe(total);
    expect(s.stats.free_memory).toBeGreaterThan(0);
    expect(s.stats.available_memory).toBeGreaterThan(0);
    expect(s.stats.minor_faults).toBeGreaterThan(0);
    expect(s.stats.swap_in).toBe(0);
  }, 90_000);

  test("inflating to half the RAM lowers MemFree and the host-side PSS of guest RAM by 80% of it", async () => {
    // Dirty nearly all free memory with a file on a tmpfs of its size, then free it: the host now holds the pages.
    const available = await meminfo(vm, "MemAvailable");
    const fillMib = Math.floor(available / MIB) - 40;
    const fill = [
      `mkdir -p /mnt/fill && mount -t tmpfs -o size=${fillMib + 16}m tmpfs /mnt/fill`,
      `dd if=/dev/zero of=/mnt/fill/f bs=1M count=${fillMib} 2> /dev/null`,
      "rm /mnt/fill/f && umount /mnt/fill",
    ].join(" && ");
    const filled = await vm.exec(fill, { timeoutMs: 180_000 });
    expect(filled.exitCode).toBe(0);
    const freeBefore = await meminfo(vm, "MemFree");
    const pssBefore = await guestRamPss(pid);

    const set = await crosvmControl(["balloon", `${HALF}`, socket]);
    const stats = await waitForActual(socket, HALF);
    const freeAfter = await meminfo(vm, "MemFree");
    const pssAfter = await guestRamPss(pid);

    const mib = (n: number) => (n / MIB).toFixed(1);
    // stderr: scripts/check.ts shows the lines before a failure from there.
    console.error(
      `balloon ${mib(HALF)} MiB: guest MemFree ${mib(freeBefore)} -> ${mib(freeAfter)} MiB,` +
        ` host guest-RAM PSS ${mib(pssBefore)} -> ${mib(pssAfter)} MiB`,
    );
    expect(set).toMatchObject({ exitCode: 0, stderr: "" });
    expect(stats.balloon_actual).toBe(HALF);
    expect(freeBefore - freeAfter).toBeGreaterThanOrEqual(0.8 * HALF);
    expect(pssBefore - pssAfter).toBeGreaterThanOrEqual(0.8 * HALF);
  }, 600_000);

  test("deflating to 0 gives the memory back to the guest", async () => {
    const freeBefore = await meminfo(vm, "MemFree");

    const set = await crosvmControl(["balloon", "0", socket]);
    const stats = await waitForActual(socket, 0);
    const freeAfter = await meminfo(vm, "MemFree");

    expect(set).toMatchObject({ exitCode: 0, stderr: "" });
    expect(stats.balloon_actual).toBe(0);
    expect(freeAfter - freeBefore).toBeGreaterThanOrEqual(0.8 * HALF);
  }, 400_000);

  test("a balloon larger than the guest's memory is refused with one line", async () => {
    const r = await crosvmControl(["balloon", `${2 * MEM_MIB * MIB}`, socket]);

    expect(r.exitCode).not.toBe(0);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toContain("more than the guest's memory");
  });

  test("guest poweroff ends the VMM with status 0", async () => {
    await vm.poweroff();

    expect(await vm.waitForExit(60_000)).toBe(0);
  }, 90_000);
});
