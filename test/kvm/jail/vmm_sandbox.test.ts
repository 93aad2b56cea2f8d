// The sandbox as the whole VMM sets it up: every virtio device runs in its own confined process, and a device
// process killed by its seccomp filter stops the VM with a message naming the device, its pid and the syscall.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readdirSync, readlinkSync } from "node:fs";
import { guestImage } from "../vmm/guest_build.ts";
import { crosvmCommand, ROOT } from "../vmm/run_cli.ts";
import { ENTRY } from "./helpers.ts";
import { descendants, deviceProcesses, statusField } from "./processes.ts";
import { startSpinningVm, useVmFiles } from "./spinning_vm.ts";

const files = useVmFiles("crosvm-sandbox-");
/** A VMM from source takes several seconds to start inside the nested rig (TCG). */
const VMM_START_TIMEOUT_MS = 60_000;

function fdTargets(pid: number): string[] {
  return readdirSync(`/proc/${pid}/fd`).map((fd) => {
    try {
      return readlinkSync(`/proc/${pid}/fd/${fd}`);
    } catch {
      return "(closed)";
    }
  });
}

describe("device processes of a running VM", () => {
  let proc: Bun.Subprocess<"pipe", "pipe", "pipe"> | undefined;
  let devices: { pid: number; cmdline: string }[] = [];

  beforeAll(async () => {
    proc = await startSpinningVm(["--block", files().disk], { DEFAULT_PIVOT_ROOT: files().pivot });
    devices = deviceProcesses(proc.pid);
  }, VMM_START_TIMEOUT_MS);
  afterAll(async () => {
    proc?.kill("SIGTERM");
    await proc?.exited;
  });

  test("the block, rng and balloon devices each run in their own process", () => {
    const kinds = devices.map(
      (d) => ["block", "rng", "balloon"].find((k) => d.cmdline.includes(` ${k} `)) ?? d.cmdline,
    );

    expect(kinds.sort()).toEqual(["balloon", "block", "rng"]);
  });

  test("every device process runs under a seccomp filter with no_new_privs", () => {
    for (const d of devices) {
      expect(statusField(d.pid, "Seccomp")).toBe("2");
      expect(statusField(d.pid, "NoNewPrivs")).toBe("1");
    }
  });

  test("no device process holds /dev/kvm, the VM or a vCPU", () => {
    for (const d of devices) {
      const targets = fdTargets(d.pid);

      expect(targets.filter((t) => t.includes("kvm"))).toEqual([]);
    }
  });

  test("only the block device process holds the disk image, and guest memory is a memfd in each", () => {
    const block = devices.find((d) => d.cmdline.includes(" block "))!;
    const rng = devices.find((d) => d.cmdline.includes(" rng "))!;

    expect(fdTargets(block.pid).filter((t) => t.endsWith("disk.img")).length).toBe(1);
    expect(fdTargets(rng.pid).filter((t) => t.endsWith("disk.img"))).toEqual([]);
    for (const d of devices) expect(fdTargets(d.pid).some((t) => t.startsWith("/memfd:"))).toBe(true);
  });

  test("every fd of a device process is a socket, pipe, eventfd, epoll, memfd, io_uring, its image or /dev/null", () => {
    // io_uring: the block device's requests in flight (src/base/io_ring.ts), locked to READV/WRITEV on its image.
    const allowed =
      /^(socket:|pipe:|anon_inode:\[?(eventfd|eventpoll|timerfd|signalfd|io_uring)\]?|\/memfd:|\/dev\/null|.*disk\.img)/;
    for (const d of devices) {
      const unexpected = fdTargets(d.pid).filter((t) => !allowed.test(t));

      expect(unexpected).toEqual([]);
    }
  });
});

describe("single process mode (--disable-sandbox)", () => {
  let proc: Bun.Subprocess<"pipe", "pipe", "pipe"> | undefined;

  beforeAll(async () => {
    proc = await startSpinningVm(["--disable-sandbox", "--block", files().disk]);
  }, VMM_START_TIMEOUT_MS);
  afterAll(async () => {
    proc?.kill("SIGTERM");
    await proc?.exited;
  });

  test("the block, rng and balloon devices run inside the VMM: it has no child process", () => {
    expect(descendants(proc!.pid)).toEqual([]);
  });

  test("the VMM itself runs without a seccomp filter or no_new_privs", () => {
    expect(statusField(proc!.pid, "Seccomp")).toBe("0");
    expect(statusField(proc!.pid, "NoNewPrivs")).toBe("0");
  });

  test("the VMM holds the disk image itself", () => {
    expect(fdTargets(proc!.pid).filter((t) => t.endsWith("disk.img")).length).toBe(1);
  });
});

describe("a device process killed by seccomp", () => {
  test("stops the VM with status 1, naming the device, its pid, the signal and the syscall", async () => {
    // The VMM of the test entry attaches one more device after rng: an rng under the rng policy that calls
    // mkdir(2) as soon as its confined process serves (test_kinds.ts). Without the balloon: one device process
    // fewer to start keeps the VMM's start-up under TCG (the rig) within the 20 s this test allows.
    const command = ["bun", "run", ENTRY, "run", "--no-balloon", "--bios", await guestImage("spin")];
    const proc = Bun.spawn(command, {
      stdin: "pipe",
      stdout: "pipe",
      stderr: "pipe",
      cwd: ROOT,
      env: { ...process.env, DEFAULT_PIVOT_ROOT: files().pivot },
    });
    const killer = setTimeout(() => proc.kill("SIGKILL"), 20_000);

    const [status, stderr] = await Promise.all([proc.exited, new Response(proc.stderr).text()]);
    clearTimeout(killer);

    expect(status).toBe(1);
    expect(stderr).toMatch(
      /device denied-syscall-rng \(pid \d+\) died: killed by SIGSYS \(seccomp: syscall 83 mkdir\)/,
    );
  });
});

describe("a sandboxed run that cannot be confined", () => {
  test("refuses to start when the pivot root is missing, in one line naming the remedies", async () => {
    const proc = Bun.spawn(
      crosvmCommand(["run", "--pivot-root", "/nonexistent", "--bios", await guestImage("spin")]),
      {
        stdin: "pipe",
        stdout: "pipe",
        stderr: "pipe",
        cwd: ROOT,
      },
    );
    const killer = setTimeout(() => proc.kill("SIGKILL"), 20_000);

    const [status, stderr] = await Promise.all([proc.exited, new Response(proc.stderr).text()]);
    clearTimeout(killer);

    expect(status).toBe(1);
    expect(stderr).toContain(
      "sandbox: pivot root /nonexistent does not exist: create it (an empty directory), name another with " +
        "--pivot-root or DEFAULT_PIVOT_ROOT, or pass --disable-sandbox\n",
    );
  });
});
