// Issue 15 item 2, one rule per test: each runs the compiled policy in a real child process started the way a
// device process is (util-linux unshare, its own PID namespace) and sees the kernel kill it, or let it live.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SOURCE_POLICY_DIR } from "../../../src/jail/seccomp/build_policies.ts";
import { deviceNamespaceLauncher } from "../../../src/jail/sandbox_launcher.ts";

const CHILD = join(import.meta.dir, "fixtures", "rule_child.ts");
const policy = (name: string) => join(SOURCE_POLICY_DIR, `${name}.policy`);
const SIGPWR = 30;
const SIGABRT = 6;
const SIGTERM = 15;
// include/uapi/asm-generic/fcntl.h, include/uapi/linux/fcntl.h
const F_SETFL = 4;
const F_SETOWN = 8;
const F_SETSIG = 10;
const F_SETLEASE = 1024;
const F_NOTIFY = 1026;
const F_ADD_SEALS = 1033;
const FASYNC = 0o20000;
const F_RDLCK = 0;
const DN_MODIFY = 2;

interface ChildEnd {
  readonly stdout: string;
  readonly signal: Bun.Subprocess["signalCode"];
}

async function runConfined(
  policyName: string,
  action: string,
  ...args: (string | number)[]
): Promise<ChildEnd> {
  const { prefix } = deviceNamespaceLauncher();
  const proc = Bun.spawn(
    [...prefix, process.execPath, CHILD, policy(policyName), action, ...args.map(String)],
    {
      stdout: "pipe",
      stderr: "pipe",
    },
  );
  const stdout = await new Response(proc.stdout).text();
  await proc.exited;
  return { stdout, signal: proc.signalCode };
}

/** A process of the host's the child must not be able to reach. */
let victim: Bun.Subprocess;
beforeAll(() => {
  victim = Bun.spawn(["sleep", "60"]);
});
afterAll(() => victim.kill("SIGKILL"));

/**
 * Killed by its filter in the call: the child printed "calling ACTION" just before making it and nothing after.
 * (The kernel's seccomp audit records, which name the syscall, are rate-limited: too few for a test per rule.)
 */
function expectKilledIn(end: ChildEnd, action: string) {
  expect(end.stdout).toEndWith(`calling ${action}\n`);
  expect(end.signal).toBe("SIGSYS");
}

describe("signals reach only the device process itself", () => {
  test("tgkill with SIGPWR to another process is killed", async () => {
    const end = await runConfined("common_device", "tgkill", victim.pid, SIGPWR);

    expectKilledIn(end, "tgkill");
    expect(victim.exitCode ?? victim.signalCode).toBeNull();
  });

  test("tgkill with SIGABRT to another process is killed", async () => {
    const end = await runConfined("common_device", "tgkill", victim.pid, SIGABRT);

    expectKilledIn(end, "tgkill");
    expect(victim.exitCode ?? victim.signalCode).toBeNull();
  });

  test("tgkill to a second pid of its own PID namespace is killed", async () => {
    const end = await runConfined("common_device", "tgkill", 2, SIGPWR);

    expectKilledIn(end, "tgkill");
  });

  test("kill is killed", async () => {
    const end = await runConfined("common_device", "kill", victim.pid, SIGTERM);

    expectKilledIn(end, "kill");
    expect(victim.exitCode ?? victim.signalCode).toBeNull();
  });

  test("tkill is killed", async () => {
    const end = await runConfined("common_device", "tkill", victim.pid, SIGPWR);

    expectKilledIn(end, "tkill");
  });

  test("SIGPWR and SIGABRT to itself (pid 1 of its namespace) pass, with a Worker and collections running", async () => {
    const end = await runConfined("common_device", "own-signals");

    expect(end.stdout).toContain("survived: pid 1, tgkill to itself: ok 0, ok 0\n");
    expect(end.signal).toBeNull();
  });
});

describe("fcntl is limited to the commands the runtime needs", () => {
  test.each([
    ["F_SETOWN", F_SETOWN, 1],
    ["F_SETSIG", F_SETSIG, SIGTERM],
    ["F_SETLEASE", F_SETLEASE, F_RDLCK],
    ["F_NOTIFY", F_NOTIFY, DN_MODIFY],
    ["F_ADD_SEALS", F_ADD_SEALS, 1],
    ["F_SETFL with FASYNC", F_SETFL, FASYNC],
  ])("%s is killed", async (_name, cmd, arg) => {
    const end = await runConfined("common_device", "fcntl", cmd, arg);

    expectKilledIn(end, "fcntl");
  });

  test("F_DUPFD_CLOEXEC, F_GETFD/F_SETFD and F_GETFL/F_SETFL(O_NONBLOCK) pass", async () => {
    const end = await runConfined("common_device", "fcntl-runtime");

    expect(end.stdout).toContain("survived: fd true flags 1 O_NONBLOCK\n");
    expect(end.signal).toBeNull();
  });
});

describe("ftruncate only where a backing file needs it", () => {
  let dir: string;
  let image: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "seccomp-rules-"));
    image = join(dir, "disk.img");
    writeFileSync(image, new Uint8Array(4096));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test.each(["rng_device", "serial_device", "common_device"])("%s is killed on ftruncate", async (name) => {
    const end = await runConfined(name, "ftruncate-file", image);

    expectKilledIn(end, "ftruncate-file");
  });

  test("block_device may truncate its image", async () => {
    const end = await runConfined("block_device", "ftruncate-file", image);

    expect(end.stdout).toContain("survived: ok undefined\n");
  });

  test("block_device cannot shrink or grow the sealed guest RAM: both fail with EPERM", async () => {
    const end = await runConfined("block_device", "ftruncate-guest-ram");

    expect(end.stdout).toContain("survived: EPERM EPERM\n");
    expect(end.signal).toBeNull();
  });
});
