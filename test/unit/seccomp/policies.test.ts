import { describe, expect, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BPF_MAXINSNS, SOCK_FILTER_SIZE } from "../../../src/jail/seccomp/bpf.ts";
import {
  compileEmbeddablePolicies,
  compilePolicyDir,
  embeddedPolicy,
  renderPoliciesModule,
  seccompPoliciesPlugin,
  SOURCE_POLICY_DIR,
} from "../../../src/jail/seccomp/build_policies.ts";
import { compilePolicyFile } from "../../../src/jail/seccomp/compiler.ts";
import { decide } from "./helpers.ts";
import { SIOCSIFADDR, TUNSETIFF, TUNSETOFFLOAD, TUNSETQUEUE } from "../../../ffi/tun.ts";
import {
  VHOST_NET_SET_BACKEND,
  VHOST_SET_MEM_TABLE,
  VHOST_SET_OWNER,
  VHOST_SET_VRING_ADDR,
  VHOST_SET_VRING_CALL,
  VHOST_SET_VRING_KICK,
  VHOST_VSOCK_SET_GUEST_CID,
  VHOST_VSOCK_SET_RUNNING,
} from "../../../ffi/vhost.ts";

const PROT_READ_WRITE = 3;
const PROT_EXEC = 4;
const MAP_SHARED = 1;

describe("policy/ directory", () => {
  const programs = compilePolicyDir(SOURCE_POLICY_DIR);
  const get = (name: string) => programs.get(name)!;

  test("every policy compiles within BPF_MAXINSNS", () => {
    const sizes = [...programs].map(([name, p]) => [name, p.length / SOCK_FILTER_SIZE] as const);
    expect(sizes.map(([name]) => name)).toEqual([
      "balloon_device",
      "block_device",
      "bun_runtime",
      "common_device",
      "fs_device",
      "input_device",
      "net_device",
      "p9_device",
      "pmem_device",
      "rng_device",
      "scsi_device",
      "serial_device",
      "vsock_device",
    ]);
    expect(sizes.every(([, n]) => n <= BPF_MAXINSNS)).toBe(true);
  });

  test("a device may map guest memory shared and read-write but never executable", () => {
    const block = get("block_device");
    expect([
      decide(block, "mmap", [0, 4096, PROT_READ_WRITE, MAP_SHARED, 5, 0]),
      decide(block, "mmap", [0, 4096, PROT_READ_WRITE | PROT_EXEC, MAP_SHARED, 5, 0]),
      decide(block, "mprotect", [0, 4096, PROT_EXEC]),
    ]).toEqual(["ALLOW", "KILL_PROCESS", "KILL_PROCESS"]);
  });

  test("a device may create threads but not processes", () => {
    const common = get("common_device");
    const CLONE_THREAD_FLAGS = 0x3d0f00;
    const SIGCHLD = 17;
    expect([
      decide(common, "clone", [CLONE_THREAD_FLAGS]),
      decide(common, "clone", [SIGCHLD]),
      decide(common, "clone3"),
      decide(common, "fork"),
      decide(common, "execve"),
    ]).toEqual(["ALLOW", "KILL_PROCESS", "ERRNO(38)", "KILL_PROCESS", "KILL_PROCESS"]);
  });

  test("a device opens no files: openat fails with ENOENT", () => {
    expect(decide(get("rng_device"), "openat", [-100, 0, 0])).toBe("ERRNO(2)");
  });

  test("signals: SIGPWR (JavaScriptCore) and SIGABRT (abort) to its own threads are allowed, SIGKILL is not", () => {
    const common = get("common_device");
    expect([
      decide(common, "tgkill", [1, 2, 30]),
      decide(common, "tgkill", [1, 2, 6]),
      decide(common, "tgkill", [1, 2, 9]),
    ]).toEqual(["ALLOW", "ALLOW", "KILL_PROCESS"]);
  });

  test("signals to any process but itself (pid 1 of its PID namespace) are not allowed", () => {
    const common = get("common_device");
    expect([
      decide(common, "tgkill", [2, 2, 30]),
      decide(common, "tgkill", [4242, 4242, 6]),
      decide(common, "tgkill", [1n | (1n << 32n), 2, 30]),
      decide(common, "kill", [1, 30]),
      decide(common, "tkill", [2, 30]),
    ]).toEqual(Array(5).fill("KILL_PROCESS"));
  });

  test("madvise with an advice outside the list fails with EINVAL instead of killing", () => {
    const MADV_DONTNEED = 4;
    const MADV_HWPOISON = 100;
    const common = get("common_device");
    expect([
      decide(common, "madvise", [0, 4096, MADV_DONTNEED]),
      decide(common, "madvise", [0, 4096, MADV_HWPOISON]),
    ]).toEqual(["ALLOW", "ERRNO(22)"]);
  });

  test("the block device does disk I/O and hole punching but no other fallocate mode", () => {
    const block = get("block_device");
    const FALLOC_FL_KEEP_SIZE_PUNCH_HOLE = 0x03;
    const FALLOC_FL_COLLAPSE_RANGE = 0x08;
    expect([
      decide(block, "pread64"),
      decide(block, "pwrite64"),
      decide(block, "fdatasync"),
      decide(block, "fallocate", [3, FALLOC_FL_KEEP_SIZE_PUNCH_HOLE]),
      decide(block, "fallocate", [3, FALLOC_FL_COLLAPSE_RANGE]),
    ]).toEqual(["ALLOW", "ALLOW", "ALLOW", "ALLOW", "KILL_PROCESS"]);
  });

  test("the scsi device does disk I/O and hole punching but no other fallocate mode, and cannot truncate its images", () => {
    const scsi = get("scsi_device");
    const FALLOC_FL_KEEP_SIZE_PUNCH_HOLE = 0x03;
    expect([
      decide(scsi, "preadv"),
      decide(scsi, "pwritev"),
      decide(scsi, "fdatasync"),
      decide(scsi, "fallocate", [3, FALLOC_FL_KEEP_SIZE_PUNCH_HOLE]),
      decide(scsi, "fallocate", [3, 0x08]),
      decide(scsi, "ftruncate", [3, 0]),
    ]).toEqual(["ALLOW", "ALLOW", "ALLOW", "ALLOW", "KILL_PROCESS", "KILL_PROCESS"]);
  });

  test("only the disk (block, scsi) and fs devices may write at an offset", () => {
    expect([decide(get("rng_device"), "pwrite64"), decide(get("serial_device"), "pwrite64")]).toEqual([
      "KILL_PROCESS",
      "KILL_PROCESS",
    ]);
  });

  test("the rng device reads entropy with getrandom", () => {
    expect(decide(get("rng_device"), "getrandom", [0, 64, 0])).toBe("ALLOW");
  });

  test("the console may ask a terminal's window size; setting terminal attributes fails with ENOTTY", () => {
    const TIOCGWINSZ = 0x5413;
    const TCSETS = 0x5402;
    const serial = get("serial_device");
    expect([decide(serial, "ioctl", [0, TIOCGWINSZ]), decide(serial, "ioctl", [0, TCSETS])]).toEqual([
      "ALLOW",
      "ERRNO(25)",
    ]);
  });

  test("the pmem device may persist its file with fdatasync but not write to it", () => {
    const pmem = get("pmem_device");
    expect([decide(pmem, "fdatasync"), decide(pmem, "pwrite64"), decide(pmem, "ftruncate")]).toEqual([
      "ALLOW",
      "KILL_PROCESS",
      "KILL_PROCESS",
    ]);
  });

  test("the balloon may punch holes in guest memory but not allocate, zero or resize it", () => {
    const balloon = get("balloon_device");
    const PUNCH_HOLE_KEEP_SIZE = 0x03;
    const ZERO_RANGE = 0x10;
    expect([
      decide(balloon, "fallocate", [5, PUNCH_HOLE_KEEP_SIZE, 0, 4096]),
      decide(balloon, "fallocate", [5, 0, 0, 4096]),
      decide(balloon, "fallocate", [5, ZERO_RANGE, 0, 4096]),
      decide(balloon, "ftruncate", [5, 0]),
    ]).toEqual(["ALLOW", "KILL_PROCESS", "KILL_PROCESS", "KILL_PROCESS"]);
  });

  test("the net device may set a TAP's offloads and queues but not attach or configure interfaces", () => {
    const net = get("net_device");
    expect(
      [TUNSETOFFLOAD, TUNSETQUEUE, TUNSETIFF, SIOCSIFADDR].map((request) =>
        decide(net, "ioctl", [5, request]),
      ),
    ).toEqual(["ALLOW", "ALLOW", "ERRNO(25)", "ERRNO(25)"]);
  });

  test("the vsock device may set up and run vhost rings but not take ownership or change its CID", () => {
    const vsock = get("vsock_device");
    expect(
      [
        VHOST_SET_MEM_TABLE,
        VHOST_SET_VRING_ADDR,
        VHOST_SET_VRING_KICK,
        VHOST_SET_VRING_CALL,
        VHOST_VSOCK_SET_RUNNING,
        VHOST_SET_OWNER,
        VHOST_VSOCK_SET_GUEST_CID,
      ].map((request) => decide(vsock, "ioctl", [5, request])),
    ).toEqual(["ALLOW", "ALLOW", "ALLOW", "ALLOW", "ALLOW", "ERRNO(25)", "ERRNO(25)"]);
  });

  test("the net device may run vhost-net rings and attach its TAP to them, not take ownership", () => {
    const net = get("net_device");
    expect(
      [VHOST_SET_MEM_TABLE, VHOST_SET_VRING_KICK, VHOST_NET_SET_BACKEND, VHOST_SET_OWNER].map((request) =>
        decide(net, "ioctl", [5, request]),
      ),
    ).toEqual(["ALLOW", "ALLOW", "ALLOW", "ERRNO(25)"]);
  });

  test("the fs device opens with openat2 relative to its descriptors; openat still fails with ENOENT", () => {
    const fs = get("fs_device");
    expect([
      decide(fs, "openat2"),
      decide(fs, "statx"),
      decide(fs, "renameat2"),
      decide(fs, "preadv"),
      decide(fs, "openat", [-100, 0, 0]),
      decide(fs, "execve"),
      decide(fs, "mount"),
    ]).toEqual(["ALLOW", "ALLOW", "ALLOW", "ALLOW", "ERRNO(2)", "KILL_PROCESS", "KILL_PROCESS"]);
  });

  test("the 9p device opens with openat2 relative to its descriptors and has no xattr calls", () => {
    const p9 = get("p9_device");
    expect([
      decide(p9, "openat2"),
      decide(p9, "getdents64"),
      decide(p9, "pwritev"),
      decide(p9, "fsetxattr"),
      decide(p9, "openat", [-100, 0, 0]),
      decide(p9, "execve"),
    ]).toEqual(["ALLOW", "ALLOW", "ALLOW", "KILL_PROCESS", "ERRNO(2)", "KILL_PROCESS"]);
  });

  test("no device may open sockets", () => {
    expect([...programs.values()].map((p) => decide(p, "socket", [1, 1, 0]))).toEqual(
      Array(programs.size).fill("KILL_PROCESS"),
    );
  });
});

test("crosvm's common device policy (as quoted in the crosvm book) compiles", () => {
  const program = compilePolicyFile(join(import.meta.dir, "fixtures", "crosvm_book_common_device.policy"));
  expect([
    decide(program, "clone", [0x10000]),
    decide(program, "tgkill", [1, 2, 6]),
    decide(program, "execve"),
  ]).toEqual(["ALLOW", "ALLOW", "KILL_PROCESS"]);
});

describe("embedding compiled policies", () => {
  function tempPolicyDir(files: Record<string, string>): string {
    const dir = mkdtempSync(join(tmpdir(), "seccomp-policies-"));
    for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
    return dir;
  }

  test("a malformed policy fails compilePolicyDir with its file:line", () => {
    const dir = tempPolicyDir({ "good.policy": "read: 1\n", "bad.policy": "read: 1\nwrite: sometimes\n" });
    expect(() => compilePolicyDir(dir)).toThrow(`${join(dir, "bad.policy")}:2: invalid action "sometimes"`);
  });

  test("the rendered module embeds both variants and embeddedPolicy decodes them", async () => {
    const dir = tempPolicyDir({ "dev.policy": "read: 1\n" });
    const moduleFile = join(dir, "policies.ts");
    writeFileSync(moduleFile, renderPoliciesModule(compileEmbeddablePolicies(dir)));
    const { EMBEDDED_POLICIES } = (await import(moduleFile)) as { EMBEDDED_POLICIES: Record<string, string> };
    expect(Object.keys(EMBEDDED_POLICIES)).toEqual(["dev", "dev+log"]);
    expect(embeddedPolicy("dev", {}, EMBEDDED_POLICIES)).toEqual(compilePolicyDir(dir).get("dev")!);
    expect(decide(embeddedPolicy("dev", { logFailures: true }, EMBEDDED_POLICIES), "write")).toBe("LOG");
  });

  test("an unknown embedded policy is refused with the known names", () => {
    expect(() => embeddedPolicy("gpu_device", {}, { dev: "" })).toThrow(
      'seccomp policy "gpu_device" is not embedded (known: dev)',
    );
  });

  test("without embedded programs the policy is compiled from the source tree", () => {
    expect(embeddedPolicy("rng_device", {}, null)).toEqual(
      compilePolicyDir(SOURCE_POLICY_DIR).get("rng_device")!,
    );
  });

  test("the build plugin swaps the placeholder module for the compiled programs in a bundle", async () => {
    const dir = tempPolicyDir({ "dev.policy": "read: 1\n" });
    const entry = join(dir, "entry.ts");
    const generated = join(
      import.meta.dir,
      "..",
      "..",
      "..",
      "src",
      "jail",
      "seccomp",
      "generated",
      "policies.ts",
    );
    writeFileSync(entry, `export { EMBEDDED_POLICIES } from ${JSON.stringify(generated)};\n`);
    const result = await Bun.build({
      entrypoints: [entry],
      outdir: join(dir, "out"),
      target: "bun",
      plugins: [seccompPoliciesPlugin(dir)],
    });
    expect(result.success).toBe(true);
    const { EMBEDDED_POLICIES } = (await import(result.outputs[0]!.path)) as {
      EMBEDDED_POLICIES: Record<string, string>;
    };
    expect(Object.keys(EMBEDDED_POLICIES)).toEqual(["dev", "dev+log"]);
  });
});
