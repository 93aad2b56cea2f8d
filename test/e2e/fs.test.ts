// Issue 12 end to end: Debian's virtiofs driver on our virtio-fs device, and its 9p driver on our virtio-9p
// device. One guest boots with three --shared-dirs (directories in the outer VM's tmpfs, where the VMM runs), mounts
// the first with `mount -t virtiofs`, the second and the third (whose device process runs as uid=/gid= 4321) with
// `mount -t 9p`; each test checks one behaviour from the guest and, where it matters, on the VMM's machine. Run alone:
// bun test test/e2e/fs.test.ts
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { VmmHost } from "./block_support.ts";
import { BOOT_HOOK_TIMEOUT_MS } from "./harness/boot_retry.ts";
import { endTestFile, TestVm } from "./harness/test_vm.ts";

const EXEC = { timeoutMs: 120_000 };
const TAG = "e2e_share";
const SHARE = "share";
const MNT = "/mnt/share";
const P9_TAG = "e2e_p9";
const P9_SHARE = "p9share";
const P9_MNT = "/mnt/p9";
/** A 9p share whose device process runs as uid and gid 4321 (--shared-dir uid=, gid=): crosvm's RunAsUser. */
const UID_TAG = "e2e_uid";
const UID_SHARE = "uidshare";
const UID_MNT = "/mnt/uid";
const RUN_AS = 4321;
/** The check's second pass runs crosvm with --disable-sandbox: no device process, so uid and gid are not applied. */
const sandboxed = process.env.CROSVM_E2E_DISABLE_SANDBOX !== "1";

setDefaultTimeout(240_000);
afterAll(endTestFile, 60_000);

describe("a guest with a virtio-fs and a virtio-9p shared directory", () => {
  let vm: TestVm;
  let where: VmmHost;

  beforeAll(async () => {
    const prepare = async () => {
      where = await VmmHost.open("crosvm");
      const dir = where.vmmPath(SHARE);
      const p9 = where.vmmPath(P9_SHARE);
      const uid = where.vmmPath(UID_SHARE);
      await where.run(
        `rm -rf ${dir} ${p9} ${uid} && mkdir -p ${dir} ${p9} ${uid} && dd if=/dev/urandom of=${dir}/from_host bs=1M count=10 2> /dev/null && dd if=/dev/urandom of=${p9}/from_host bs=1M count=10 2> /dev/null && chmod 777 ${uid} && echo root-only > ${uid}/secret && chmod 600 ${uid}/secret`,
      );
    };
    await prepare();
    vm = await TestVm.boot({
      cmdline: "quiet",
      beforeAttempt: async () => {
        if ((await VmmHost.open("crosvm")).hostDir !== where.hostDir) await prepare();
      },
      vmmArgs: [
        "--shared-dir",
        `${where.vmmPath(SHARE)}:${TAG}:type=fs:cache=auto`,
        "--shared-dir",
        `${where.vmmPath(P9_SHARE)}:${P9_TAG}:type=p9`,
        "--shared-dir",
        `${where.vmmPath(UID_SHARE)}:${UID_TAG}:type=p9:uid=${RUN_AS}:gid=${RUN_AS}`,
      ],
    });
    const mounted = await vm.exec(
      `mkdir -p ${MNT} ${P9_MNT} ${UID_MNT} && mount -t virtiofs ${TAG} ${MNT} && mount -t 9p -o trans=virtio,version=9p2000.L ${P9_TAG} ${P9_MNT} && mount -t 9p -o trans=virtio,version=9p2000.L ${UID_TAG} ${UID_MNT}`,
      EXEC,
    );
    if (mounted.exitCode !== 0) throw new Error(`mounting the shared directories failed: ${mounted.stderr}`);
  }, BOOT_HOOK_TIMEOUT_MS);

  afterAll(async () => {
    await vm?.stop();
    await where
      ?.run(
        `rm -rf ${where.vmmPath(SHARE)} ${where.vmmPath(P9_SHARE)} ${where.vmmPath(UID_SHARE)} ${where.vmmPath("outside-secret")}`,
      )
      .catch(() => {});
  }, 60_000);

  /** A 10 MB file each way between the guest's mount `mnt` and the share (`onHost` runs in it, where the VMM runs). */
  function tenMegabyteFilesBothWays(mnt: string, onHost: (script: string) => Promise<string>): void {
    test("a 10 MB file written in the guest has the same checksum on the host", async () => {
      const guest = await vm.exec(
        `dd if=/dev/urandom of=${mnt}/from_guest bs=1M count=10 2> /dev/null && sync && sha256sum ${mnt}/from_guest`,
        EXEC,
      );

      const host = await onHost("sha256sum from_guest");
      expect(guest.exitCode).toBe(0);
      expect(host.split(" ")[0]).toBe(guest.stdout.split(" ")[0]);
    });

    test("a 10 MB file made on the host has the same checksum in the guest", async () => {
      const host = await onHost("sha256sum from_host");

      const guest = await vm.exec(`sha256sum ${mnt}/from_host`, EXEC);

      expect(guest.stdout.split(" ")[0]).toBe(host.split(" ")[0]);
    });
  }

  describe("a guest with a virtio-fs shared directory", () => {
    const onHost = (script: string) => where.run(`cd ${where.vmmPath(SHARE)} && ${script}`, 120_000);

    test("the tag is mounted as virtiofs", async () => {
      const { stdout } = await vm.exec(`grep ' ${MNT} ' /proc/mounts`, EXEC);

      expect(stdout).toContain(`${TAG} ${MNT} virtiofs`);
    });

    tenMegabyteFilesBothWays(MNT, onHost);

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

  describe("a guest with a virtio-9p shared directory", () => {
    const onHost = (script: string) => where.run(`cd ${where.vmmPath(P9_SHARE)} && ${script}`, 120_000);

    test("the tag is mounted as 9p", async () => {
      const { stdout } = await vm.exec(`grep ' ${P9_MNT} ' /proc/mounts`, EXEC);

      expect(stdout).toContain(`${P9_TAG} ${P9_MNT} 9p`);
    });

    tenMegabyteFilesBothWays(P9_MNT, onHost);

    test("mkdir, rename, symlink and rm behave as on a local disk", async () => {
      const script = [
        `cd ${P9_MNT}`,
        "mkdir -p tree/sub",
        "echo one > tree/sub/a",
        "echo two > tree/b",
        "ln -s sub/a tree/link",
        "mv -f tree/sub/a tree/b",
        "mkdir tree/gone && rmdir tree/gone",
        "echo x > tree/tmp && rm tree/tmp",
        "cat tree/b",
      ].join(" && ");

      const guest = await vm.exec(script, EXEC);

      expect([guest.exitCode, guest.stdout]).toEqual([0, "one\n"]);
      expect(await onHost("cat tree/b; readlink tree/link; ls tree/sub | wc -l; ls tree")).toBe(
        "one\nsub/a\n0\nb\nlink\nsub\n",
      );
    });

    test("a path with '..' cannot leave the share", async () => {
      await onHost("echo host-secret > ../outside-secret && ln -sf ../outside-secret escape");

      const { stdout } = await vm.exec(
        `cat ${P9_MNT}/../outside-secret 2>&1; cat ${P9_MNT}/escape 2>&1; ls ${P9_MNT}/.. ; readlink ${P9_MNT}/escape`,
        EXEC,
      );

      // ".." of the mount is the guest's /mnt, and the symlink's target is resolved by the guest in its own tree.
      expect(stdout).not.toContain("host-secret");
      expect(stdout).toContain("../outside-secret\n");
    });
  });

  describe(`a virtio-9p shared directory with uid=${RUN_AS}:gid=${RUN_AS}`, () => {
    const onHost = (script: string) => where.run(`cd ${where.vmmPath(UID_SHARE)} && ${script}`, 120_000);

    test(
      sandboxed
        ? "a file the guest's root creates belongs to the device process's uid and gid on the host"
        : "without the sandbox a file the guest's root creates is the VMM's, as crosvm ignores uid and gid",
      async () => {
        const owner = sandboxed ? `${RUN_AS}:${RUN_AS}\n` : await onHost("echo $(id -u):$(id -g)");

        const guest = await vm.exec(`echo made > ${UID_MNT}/made`, EXEC);

        expect(guest.exitCode).toBe(0);
        expect(await onHost("stat -c %u:%g made")).toBe(owner);
      },
    );

    test(
      sandboxed
        ? "a host file only root may read is refused to the guest's root"
        : "without the sandbox a host file only root may read is read by the guest's root",
      async () => {
        const { stdout, exitCode } = await vm.exec(`cat ${UID_MNT}/secret 2>&1`, EXEC);

        expect([exitCode === 0, stdout.includes("root-only")]).toEqual([!sandboxed, !sandboxed]);
      },
    );
  });
});
