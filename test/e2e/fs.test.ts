// Issue 12 end to end: Debian's virtiofs driver on our virtio-fs device. One guest boots with a --shared-dir
// (a directory in the outer VM's tmpfs, where the VMM runs) and mounts it with `mount -t virtiofs`; each test
// checks one behaviour from the guest and, where it matters, on the VMM's machine. Run alone:
// bun test test/e2e/fs.test.ts
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { VmmHost } from "./block_support.ts";
import { BOOT_HOOK_TIMEOUT_MS } from "./harness/boot_retry.ts";
import { endTestFile, TestVm } from "./harness/test_vm.ts";

const EXEC = { timeoutMs: 120_000 };
const TAG = "e2e_share";
const SHARE = "share";
const MNT = "/mnt/share";

setDefaultTimeout(240_000);
afterAll(endTestFile, 60_000);

describe("a guest with a virtio-fs shared directory", () => {
  let vm: TestVm;
  let where: VmmHost;
  const onHost = (script: string) => where.run(`cd ${where.vmmPath(SHARE)} && ${script}`, 120_000);

  beforeAll(async () => {
    const prepare = async () => {
      where = await VmmHost.open("crosvm");
      const dir = where.vmmPath(SHARE);
      await where.run(
        `rm -rf ${dir} && mkdir -p ${dir} && dd if=/dev/urandom of=${dir}/from_host bs=1M count=10 2> /dev/null`,
      );
    };
    await prepare();
    vm = await TestVm.boot({
      cmdline: "quiet",
      beforeAttempt: async () => {
        if ((await VmmHost.open("crosvm")).hostDir !== where.hostDir) await prepare();
      },
      vmmArgs: ["--shared-dir", `${where.vmmPath(SHARE)}:${TAG}:type=fs:cache=auto`],
    });
    const mounted = await vm.exec(`mkdir -p ${MNT} && mount -t virtiofs ${TAG} ${MNT}`, EXEC);
    if (mounted.exitCode !== 0) throw new Error(`mount -t virtiofs failed: ${mounted.stderr}`);
  }, BOOT_HOOK_TIMEOUT_MS);

  afterAll(async () => {
    await vm?.stop();
    await where?.run(`rm -rf ${where.vmmPath(SHARE)} ${where.vmmPath("outside-secret")}`).catch(() => {});
  }, 60_000);

  test("the tag is mounted as virtiofs", async () => {
    const { stdout } = await vm.exec(`grep ' ${MNT} ' /proc/mounts`, EXEC);

    expect(stdout).toContain(`${TAG} ${MNT} virtiofs`);
  });

  test("a 10 MB file written in the guest has the same checksum on the host", async () => {
    const guest = await vm.exec(
      `dd if=/dev/urandom of=${MNT}/from_guest bs=1M count=10 2> /dev/null && sync && sha256sum ${MNT}/from_guest`,
      EXEC,
    );

    const host = await onHost("sha256sum from_guest");
    expect(guest.exitCode).toBe(0);
    expect(host.split(" ")[0]).toBe(guest.stdout.split(" ")[0]);
  });

  test("a 10 MB file made on the host has the same checksum in the guest", async () => {
    const host = await onHost("sha256sum from_host");

    const guest = await vm.exec(`sha256sum ${MNT}/from_host`, EXEC);

    expect(guest.stdout.split(" ")[0]).toBe(host.split(" ")[0]);
  });

  test("a file fsynced in the guest is on the host before the guest unmounts", async () => {
    // dd conv=fsync: fsync(2) on the file before dd exits; the mount stays as it is.
    const guest = await vm.exec(`echo durable | dd of=${MNT}/synced conv=fsync 2> /dev/null`, EXEC);

    expect(guest.exitCode).toBe(0);
    expect(await onHost("cat synced")).toBe("durable\n");
  });

  test("mkdir, symlink, hard link, rename over an existing file, chmod and rm behave as on a local disk", async () => {
    const script = [
      `cd ${MNT}`,
      "mkdir -p tree/sub",
      "echo one > tree/sub/a",
      "echo two > tree/b",
      "ln -s sub/a tree/link",
      "ln tree/b tree/hard",
      "chmod 600 tree/b",
      "mv -f tree/sub/a tree/b",
      "rm tree/hard",
      "ls -la tree",
    ].join(" && ");

    const guest = await vm.exec(script, EXEC);

    expect(guest.exitCode).toBe(0);
    expect(await onHost("cat tree/b; readlink tree/link; stat -c %a tree/b; ls tree/sub | wc -l")).toBe(
      "one\nsub/a\n644\n0\n",
    );
  });

  test("cp -a of a tree with a symlink and a hard link keeps them", async () => {
    const script = [
      `cd ${MNT}`,
      "mkdir -p src && echo data > src/f && ln src/f src/f2 && ln -s f src/l && chmod 640 src/f",
      "cp -a src dst",
      "stat -c '%h %a' dst/f; readlink dst/l",
    ].join(" && ");

    const { stdout, exitCode } = await vm.exec(script, EXEC);

    expect(exitCode).toBe(0);
    expect(stdout).toBe("2 640\nf\n");
  });

  test("a file changed on the host is seen by the guest after the attribute timeout", async () => {
    await onHost("echo from-host > changed");

    const { stdout } = await vm.exec(`cat ${MNT}/changed`, EXEC);

    expect(stdout).toBe("from-host\n");
  });

  test("a symlink in the share pointing out of it is resolved by the guest, in the guest's tree", async () => {
    await onHost("echo host-secret > ../outside-secret && ln -sf ../outside-secret escape");

    const { stdout } = await vm.exec(`readlink ${MNT}/escape; cat ${MNT}/escape 2>&1 || true`, EXEC);

    // The target is text for the guest's kernel to resolve in its own tree: /mnt/outside-secret does not exist.
    expect(stdout).toContain("../outside-secret\n");
    expect(stdout).not.toContain("host-secret");
  });

  test("a rename over a file the guest holds open leaves the open descriptor on the old contents", async () => {
    const script = [
      `cd ${MNT}`,
      "echo first > git-like && exec 3< git-like",
      "echo second > git-like.tmp && mv -f git-like.tmp git-like",
      "cat <&3; cat git-like",
    ].join(" && ");

    const { stdout } = await vm.exec(script, EXEC);

    expect(stdout).toBe("first\nsecond\n");
  });
});
