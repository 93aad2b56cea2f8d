// What a device process runs as with --shared-dir's uid and gid (crosvm's RunAsUser::Specified): the host ids
// found in its user namespace's maps, then set on every thread with no capabilities left. The changes are made in
// child processes (run_as_child.ts): ids given up cannot be taken back by the test runner.
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { idInNamespace, planRunAs } from "../../../src/jail/run_as.ts";
import { SandboxError } from "../../../src/jail/sandbox_launcher.ts";
import { thrown } from "./thrown.ts";

const CHILD = join(import.meta.dir, "fixtures", "run_as_child.ts");
/** /proc/self/uid_map outside any user namespace: every id is itself. */
const IDENTITY = "         0          0 4294967295\n";
/** A non-root VMM's device namespace (unshare --map-root-user) for a VMM run by uid 1000. */
const ROOT_IS_1000 = "         0       1000          1\n";
const isRoot = process.getuid?.() === 0;

describe("host ids in the device process's user namespace", () => {
  test("without a user namespace a host id is itself", () => {
    expect(idInNamespace(IDENTITY, 4321)).toBe(4321);
  });

  test("in a namespace mapping 0 to host uid 1000, host uid 1000 is 0", () => {
    expect(idInNamespace(ROOT_IS_1000, 1000)).toBe(0);
  });

  test("a host id inside a longer range keeps its offset", () => {
    expect(idInNamespace("0 1000 1\n1 100000 65536\n", 100005)).toBe(6);
  });

  test("a host id no line maps has no namespace id", () => {
    expect(idInNamespace(ROOT_IS_1000, 1001)).toBeUndefined();
  });
});

describe("planning the change", () => {
  test("as root the host ids are taken as they are, and supplementary groups are cleared", () => {
    const plan = planRunAs(
      { uid: 4321, gid: 1234, what: "--shared-dir t uid=4321:gid=1234" },
      { uidMap: IDENTITY, gidMap: IDENTITY, setgroups: "allow\n" },
    );

    expect(plan).toEqual({
      uid: 4321,
      gid: 1234,
      clearGroups: true,
      what: "--shared-dir t uid=4321:gid=1234",
    });
  });

  test("a non-root VMM's own uid is namespace uid 0, and setgroups is left alone where it is denied", () => {
    const plan = planRunAs(
      { uid: 1000, what: "--shared-dir t uid=1000" },
      { uidMap: ROOT_IS_1000, gidMap: ROOT_IS_1000, setgroups: "deny\n" },
    );

    expect(plan).toEqual({ uid: 0, clearGroups: false, what: "--shared-dir t uid=1000" });
  });

  test("a host uid a non-root VMM's namespace lacks is refused in one line naming the option and the remedy", () => {
    const e = thrown(() =>
      planRunAs(
        { uid: 4321, what: "--shared-dir t uid=4321" },
        { uidMap: ROOT_IS_1000, gidMap: ROOT_IS_1000, setgroups: "deny\n" },
      ),
    );

    expect(e).toBeInstanceOf(SandboxError);
    expect(e.message).toBe(
      "sandbox: --shared-dir t uid=4321: the device process cannot run as host uid 4321: its user namespace maps " +
        "only host id 1000 (a crosvm not run as root can run its devices only as its own uid): run crosvm as " +
        "root, or pass --disable-sandbox",
    );
  });

  test("a host gid the namespace lacks is refused naming the gid", () => {
    const e = thrown(() =>
      planRunAs(
        { gid: 7, what: "--shared-dir t gid=7" },
        { uidMap: ROOT_IS_1000, gidMap: ROOT_IS_1000, setgroups: "deny\n" },
      ),
    );

    expect(e.message).toContain("cannot run as host gid 7");
  });
});

interface ThreadIds {
  main: boolean;
  name: string;
  uid: string;
  gid: string;
  groups: string;
  capEff: string;
  capPrm: string;
}

async function runChild(env: { RUN_AS_UID?: string; RUN_AS_GID?: string }, prefix: string[] = []) {
  const proc = Bun.spawn([...prefix, process.execPath, CHILD], {
    env: { ...process.env, ...env },
    stdout: "pipe",
    stderr: "pipe",
  });
  const [stdout, stderr, exitCode] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ]);
  const report =
    exitCode === 0
      ? (JSON.parse(stdout) as { applied: string; threads: ThreadIds[]; deathSignal: number })
      : undefined;
  return { report, stderr, exitCode };
}

const NO_CAPS = "0000000000000000";

describe.skipIf(!isRoot)("changing the ids of a process (as root)", () => {
  test("uid and gid are set on every thread, which keep no capability and no supplementary group", async () => {
    const { report } = await runChild({ RUN_AS_UID: "4321", RUN_AS_GID: "1234" });

    expect(report?.applied).toBe("run as gid 1234, uid 4321, no capabilities");
    expect(report!.threads.length).toBeGreaterThan(1);
    for (const t of report!.threads)
      expect([t.name, t.uid, t.gid, t.groups, t.capEff, t.capPrm]).toEqual([
        t.name,
        "4321\t4321\t4321\t4321",
        "1234\t1234\t1234\t1234",
        "",
        NO_CAPS,
        NO_CAPS,
      ]);
  });

  test("the launcher's parent-death signal (unshare --kill-child) survives the change", async () => {
    const { report } = await runChild({ RUN_AS_UID: "4321", RUN_AS_GID: "1234" }, [
      "setpriv",
      "--pdeathsig",
      "KILL",
      "--",
    ]);

    expect(report?.deathSignal).toBe(9);
  });

  test("a gid alone leaves the uid and its capabilities", async () => {
    const { report } = await runChild({ RUN_AS_GID: "1234" });

    const main = report!.threads.find((t) => t.main)!;
    expect(report?.applied).toBe("run as gid 1234");
    expect([main.uid, main.gid]).toEqual(["0\t0\t0\t0", "1234\t1234\t1234\t1234"]);
    expect(main.capEff).not.toBe(NO_CAPS);
  });

  test("in a user namespace mapping only root, host uid 0 stays uid 0 but loses its capabilities", async () => {
    const { report } = await runChild({ RUN_AS_UID: "0" }, ["unshare", "--user", "--map-root-user"]);

    const main = report!.threads.find((t) => t.main)!;
    expect(report?.applied).toBe("run as uid 0, no capabilities");
    expect([main.uid, main.capEff, main.capPrm]).toEqual(["0\t0\t0\t0", NO_CAPS, NO_CAPS]);
  });

  test("in a user namespace mapping only root, another host uid is refused before anything changes", async () => {
    const { stderr, exitCode } = await runChild({ RUN_AS_UID: "4321" }, [
      "unshare",
      "--user",
      "--map-root-user",
    ]);

    expect(exitCode).toBe(1);
    expect(stderr).toContain(
      "the device process cannot run as host uid 4321: its user namespace maps only host id 0",
    );
  });
});
