// Installs real filters in child processes (seccomp cannot be undone in the test runner itself).
import { describe, expect, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SOURCE_POLICY_DIR } from "../../../src/jail/seccomp/build_policies.ts";
import { installSeccompFilter, SeccompInstallError, sockFprog } from "../../../src/jail/seccomp/install.ts";
import { deviceNamespaceLauncher } from "../../../src/jail/sandbox_launcher.ts";

const CHILD = join(import.meta.dir, "fixtures", "install_child.ts");
const DEVICE_CHILD = join(import.meta.dir, "fixtures", "device_child.ts");
const BUN_RUNTIME = join(SOURCE_POLICY_DIR, "bun_runtime.policy");

/** The children run as device processes do, as pid 1 of their own PID namespace (the policies' tgkill rules). */
const confined = (args: string[]) => [...deviceNamespaceLauncher().prefix, process.execPath, ...args];

async function runChild(policy: string, mode = "") {
  const proc = Bun.spawn(confined([CHILD, policy, mode]), { stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
  ]);
  await proc.exited;
  return { stdout, stderr, exitCode: proc.exitCode, signal: proc.signalCode };
}

describe("installing a seccomp filter", () => {
  test("a denied syscall kills the process with SIGSYS after Bun and a Worker ran under the filter", async () => {
    const child = await runChild(BUN_RUNTIME);
    expect(child.stdout).toBe("NoNewPrivs: 1\nSeccomp: 2\nworker answered 42\n");
    expect(child.signal).toBe("SIGSYS");
    // A shell reports this as exit status 159 (128 + SIGSYS 31).
    expect(child.exitCode).toBeNull();
  });

  test("with logFailures the denied syscall is logged and runs", async () => {
    const child = await runChild(BUN_RUNTIME, "log");
    expect(child.stdout).toEndWith("worker answered 42\ngetcwd allowed\n");
    expect(child.exitCode).toBe(0);
  });

  test("`return EPERM` makes the denied syscall fail without killing", async () => {
    const dir = mkdtempSync(join(tmpdir(), "seccomp-install-"));
    const policy = join(dir, "eperm.policy");
    writeFileSync(policy, `@include ${BUN_RUNTIME}\ngetcwd: return EPERM\n`);
    const child = await runChild(policy);
    expect(child.stdout).toEndWith("getcwd failed: getcwd on syscall failed: EPERM\n");
    expect(child.exitCode).toBe(0);
  });

  test("a block device process maps guest memory, waits on an eventfd and does disk I/O under block_device", async () => {
    const dir = mkdtempSync(join(tmpdir(), "seccomp-device-"));
    const proc = Bun.spawn(
      confined([DEVICE_CHILD, join(SOURCE_POLICY_DIR, "block_device.policy"), join(dir, "disk.img")]),
      {
        stdout: "pipe",
        stderr: "pipe",
      },
    );
    const stdout = await new Response(proc.stdout).text();
    await proc.exited;
    expect(stdout).toBe("device ok: token 7 read sector worker 2\n");
    expect(proc.exitCode).toBe(0);
  });

  test("struct sock_fprog holds the instruction count at 0 and the filter address at 8", () => {
    const filter = new Uint8Array(3 * 8);
    const dv = new DataView(sockFprog(filter).buffer);
    expect(dv.getUint16(0, true)).toBe(3);
    expect(dv.getBigUint64(8, true)).not.toBe(0n);
  });

  test("a program that is not whole instructions is refused before any syscall", () => {
    expect(() => installSeccompFilter(new Uint8Array(12), "broken")).toThrow(SeccompInstallError);
  });
});
