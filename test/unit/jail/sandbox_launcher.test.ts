// A sandboxed run that cannot be confined as asked is refused with one line saying what to do (issue 15 item 1).
import { afterAll, describe, expect, test } from "bun:test";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { confine, rootFsType } from "../../../src/jail/confine.ts";
import { startDeviceProcess } from "../../../src/jail/device_process/spawn.ts";
import {
  checkPivotRoot,
  launcherFor,
  probeLauncher,
  SandboxError,
} from "../../../src/jail/sandbox_launcher.ts";
import { createGuestRam, releaseGuestRam } from "../../../src/vmm/guest_ram.ts";
import { thrown } from "./thrown.ts";

const dir = mkdtempSync(join(tmpdir(), "crosvm-launcher-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("the pivot root", () => {
  test("a missing pivot root is refused with what to do", () => {
    const e = thrown(() => checkPivotRoot("/nonexistent"));

    expect(e).toBeInstanceOf(SandboxError);
    expect(e.message).toBe(
      "sandbox: pivot root /nonexistent does not exist: create it (an empty directory), name another with " +
        "--pivot-root or DEFAULT_PIVOT_ROOT, or pass --disable-sandbox",
    );
  });

  test("a pivot root that is a file is refused", () => {
    const file = join(dir, "file");
    writeFileSync(file, "");

    expect(() => checkPivotRoot(file)).toThrow(`sandbox: pivot root ${file} is not a directory`);
  });

  test("a device process with a missing pivot root is not started", async () => {
    const memory = createGuestRam([{ guestAddr: 0, size: 1 << 16 }], { name: "launcher_test" });
    try {
      const start = startDeviceProcess({
        kind: "rng",
        memory,
        queueEvents: [],
        irqfds: [],
        sandbox: { pivotRoot: "/nonexistent" },
        command: ["/bin/false"],
      });

      await expect(start).rejects.toThrow("sandbox: pivot root /nonexistent does not exist");
    } finally {
      releaseGuestRam(memory);
    }
  });
});

describe("the namespace launcher", () => {
  test("root gets new mount, network, IPC and PID namespaces", () => {
    const l = launcherFor({ uid: 0, unshare: "/usr/bin/unshare" });

    expect(l.prefix).toEqual([
      "/usr/bin/unshare",
      "--mount",
      "--net",
      "--ipc",
      "--pid",
      "--fork",
      "--kill-child",
      "--",
    ]);
    expect(l.namespaces).toEqual(["mount", "network", "ipc", "pid"]);
  });

  test("another user gets the same namespaces inside a user namespace mapping root to itself", () => {
    const l = launcherFor({ uid: 1000, unshare: "/usr/bin/unshare" });

    expect(l.prefix.slice(1, 3)).toEqual(["--user", "--map-root-user"]);
    expect(l.prefix.slice(3)).toEqual(["--mount", "--net", "--ipc", "--pid", "--fork", "--kill-child", "--"]);
    expect(l.namespaces).toEqual(["mount", "network", "ipc", "pid", "user"]);
  });

  test("no unshare(1) is refused with what to do", () => {
    expect(() => launcherFor({ uid: 0, unshare: undefined })).toThrow(
      "sandbox: unshare(1) from util-linux is not installed; install util-linux, or pass --disable-sandbox",
    );
  });

  test("namespaces the host refuses are reported with unshare's own words and the ways out", () => {
    const fake = join(dir, "unshare");
    writeFileSync(fake, "#!/bin/sh\necho 'unshare: unshare failed: Operation not permitted' >&2\nexit 1\n");
    chmodSync(fake, 0o755);

    const e = thrown(() => probeLauncher(launcherFor({ uid: 1000, unshare: fake })));

    expect(e).toBeInstanceOf(SandboxError);
    expect(e.message).toBe(
      `sandbox: cannot create the device processes' namespaces with ${fake} (unshare: unshare failed: ` +
        "Operation not permitted): run crosvm as root, or pass --disable-sandbox " +
        "(or allow unprivileged user namespaces on this host)",
    );
  });

  test("the real unshare(1) makes the namespaces here", () => {
    const l = launcherFor({ uid: process.getuid!(), unshare: Bun.which("unshare") ?? undefined });

    expect(() => probeLauncher(l)).not.toThrow();
  });
});

describe("confine in the device process", () => {
  test("refuses before changing anything when the launcher did not enter every namespace", () => {
    const run = () =>
      confine({
        namespaces: ["mount", "ipc"],
        pivotRoot: dir,
        seccomp: { program: new Uint8Array(8), policy: "test" },
      });

    expect(run).toThrow("sandbox: the launcher did not enter the network, pid namespace(s)");
  });

  test("refuses before changing anything when the pivot root is missing", () => {
    const run = () =>
      confine({
        namespaces: ["mount", "network", "ipc", "pid"],
        pivotRoot: "/nonexistent",
        seccomp: { program: new Uint8Array(8), policy: "test" },
      });

    expect(run).toThrow(SandboxError);
  });
});

describe("the root's file system type, which decides between pivot_root and move+chroot", () => {
  test("an initramfs root is rootfs", () => {
    const mountinfo =
      "1 1 0:2 / / rw - rootfs rootfs rw,size=1001604k\n22 1 0:20 / /proc rw,nosuid - proc proc rw\n";

    expect(rootFsType(mountinfo)).toBe("rootfs");
  });

  test("a disk root is its file system", () => {
    const mountinfo =
      "25 1 254:1 / / rw,relatime shared:1 - ext4 /dev/vda1 rw\n26 25 0:5 / /dev rw - devtmpfs udev rw\n";

    expect(rootFsType(mountinfo)).toBe("ext4");
  });
});
