// pjdfstest (github.com/pjd/pjdfstest, a POSIX file-system test suite) on our shared directories (issue 12). Builds
// its `pjdfstest` binary statically from a source tree on this host (autoreconf, configure, make: Debian's
// autoconf, automake and gcc), packs the binary, its tests/ tree and scripts/pjdfstest/{run.sh,openssl} into an ext4
// image, and boots one guest with our VMM (the TestVm harness; in the rig where the host has no /dev/kvm) with the
// image as a read-only --block, a virtio-fs --shared-dir and a virtio-9p --shared-dir (directories where the VMM
// runs, with the --shared-dir defaults: cache=auto, timeout=5, no id maps). As root in the guest it runs the suite
// on a tmpfs of the guest (the reference), the virtio-fs mount and the 9p mount, one test directory at a time on
// all three, and prints per mount the files run, TAP cases ok / not ok and the failing files.
// The suite's source is not kept in this repository: pass a checkout or a bare git directory.
// Usage: flock /tmp/crosvm-rig.lock bun scripts/pjdfstest.ts --source PATH [--budget MINUTES] [--build-only] [DIR...]
//   DIR: test directories under tests/, run in the order given (default: all of them); --budget: start no further
//   directory after this many minutes of running the suite (default: no limit); --build-only: build the binary and
//   the image (build/pjdfstest/) and boot nothing. Needs dist/crosvm.
import { existsSync, mkdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { repoRoot } from "./guest/paths.ts";
import { run } from "./guest/run.ts";
import { type TapFile, fileFailed, missingCases, parseRunOutput, summarize } from "./pjdfstest/tap.ts";
import { VmmHost } from "../test/e2e/block_support.ts";
import { shutdownRigs, TestVm } from "../test/e2e/harness/test_vm.ts";

const IMAGE = "pjdfstest.ext4";
const FS_SHARE = "pjd_fs";
const P9_SHARE = "pjd_p9";
const SUITE = "/mnt/pjd";
const MOUNTS = [
  { name: "tmpfs (guest)", dir: "/mnt/tmpfs" },
  { name: "virtio-fs", dir: "/mnt/virtiofs" },
  { name: "virtio-9p", dir: "/mnt/9p" },
] as const;
const buildDir = join(repoRoot, "build/pjdfstest");

function usage(message: string): never {
  console.error(`pjdfstest: ${message}`);
  console.error("usage: bun scripts/pjdfstest.ts --source PATH [--budget MINUTES] [--build-only] [DIR...]");
  process.exit(2);
}

/** Copies the source (a tree, or a bare git directory's HEAD) to `dest`. */
function copySource(source: string, dest: string): void {
  rmSync(dest, { recursive: true, force: true });
  mkdirSync(dest, { recursive: true });
  if (existsSync(join(source, "pjdfstest.c"))) run(["cp", "-a", `${source}/.`, dest]);
  else if (existsSync(join(source, "HEAD")) && existsSync(join(source, "objects")))
    run(["sh", "-c", 'git --git-dir="$1" archive HEAD | tar x -C "$2"', "sh", source, dest]);
  else
    usage(`--source ${source}: expected a pjdfstest source tree (with pjdfstest.c) or a bare git directory`);
}

/** Builds the static pjdfstest binary from `source` in build/pjdfstest/src; returns that directory. */
function buildSuite(source: string): string {
  for (const tool of ["autoreconf", "automake", "gcc", "make"])
    if (!Bun.which(tool)) usage(`${tool} is missing: apt-get install autoconf automake gcc make`);
  const src = join(buildDir, "src");
  copySource(source, src);
  run(["autoreconf", "-ifs"], { cwd: src });
  run(["./configure", "-q", "LDFLAGS=-static"], { cwd: src });
  run(["make", "-s"], { cwd: src });
  // A static binary has no program interpreter; the busybox guest has no C library to load.
  if (run(["readelf", "-l", join(src, "pjdfstest")]).stdout.includes("INTERP"))
    throw new Error("pjdfstest was linked dynamically: is libc6-dev's static libc.a installed?");
  return src;
}

/** The ext4 image: pjdfstest, tests/, run.sh and bin/openssl (scripts/pjdfstest/). Returns its path. */
function packImage(src: string): string {
  const stage = join(buildDir, "stage");
  rmSync(stage, { recursive: true, force: true });
  mkdirSync(join(stage, "bin"), { recursive: true });
  run(["cp", "-a", join(src, "pjdfstest"), join(src, "tests"), stage]);
  run(["cp", join(import.meta.dir, "pjdfstest/run.sh"), stage]);
  run(["cp", join(import.meta.dir, "pjdfstest/openssl"), join(stage, "bin")]);
  const image = join(buildDir, IMAGE);
  rmSync(image, { force: true });
  const kib = Number(run(["du", "-sk", stage]).stdout.split("\t")[0]);
  run([
    "mkfs.ext4",
    "-q",
    "-F",
    "-d",
    stage,
    "-E",
    "root_owner=0:0",
    image,
    `${Math.ceil(kib * 1.5 + 8192)}K`,
  ]);
  return image;
}

function testDirs(src: string, asked: string[]): string[] {
  const all = run(["ls", join(src, "tests")])
    .stdout.split("\n")
    .filter((d) => d && statSync(join(src, "tests", d)).isDirectory());
  for (const d of asked)
    if (!all.includes(d)) usage(`no test directory tests/${d} (there are: ${all.join(" ")})`);
  return asked.length > 0 ? asked : all;
}

const { values, positionals } = parseArgs({
  args: Bun.argv.slice(2),
  options: { source: { type: "string" }, budget: { type: "string" }, "build-only": { type: "boolean" } },
  allowPositionals: true,
});
if (!values.source) usage("--source PATH is required (a pjdfstest checkout or bare git directory)");
const budgetMin = values.budget === undefined ? Infinity : Number(values.budget);
if (!(budgetMin > 0)) usage(`--budget ${values.budget}: expected a number of minutes above 0`);

const src = buildSuite(values.source);
const dirs = testDirs(src, positionals);
const image = packImage(src);
if (values["build-only"]) {
  console.log(`pjdfstest: ${image} (test directories: ${dirs.join(" ")})`);
  process.exit(0);
}
const results = new Map<string, TapFile[]>(MOUNTS.map((m) => [m.name, []]));
const ran: string[] = [];
let where: VmmHost | undefined;
let vm: TestVm | undefined;
try {
  const prepare = async () => {
    where = await VmmHost.open("crosvm");
    writeFileSync(where.hostPath(IMAGE), await Bun.file(image).bytes());
    await where.importImage(IMAGE);
    await where.run(`rm -rf ${where.vmmPath(FS_SHARE)} ${where.vmmPath(P9_SHARE)}`);
    await where.run(`mkdir -p ${where.vmmPath(FS_SHARE)} ${where.vmmPath(P9_SHARE)}`);
  };
  await prepare();
  vm = await TestVm.boot({
    cmdline: "quiet",
    beforeAttempt: async () => {
      if ((await VmmHost.open("crosvm")).hostDir !== where!.hostDir) await prepare();
    },
    vmmArgs: [
      ...["--block", `${where!.vmmPath(IMAGE)},ro`],
      ...["--shared-dir", `${where!.vmmPath(FS_SHARE)}:pjd_fs:type=fs`],
      ...["--shared-dir", `${where!.vmmPath(P9_SHARE)}:pjd_p9:type=p9`],
    ],
  });
  await vm.execChecked(
    [
      `mkdir -p ${SUITE} ${MOUNTS.map((m) => m.dir).join(" ")}`,
      `mount -t ext4 -o ro /dev/vda ${SUITE}`,
      `mount -t tmpfs tmpfs ${MOUNTS[0].dir}`,
      `mount -t virtiofs pjd_fs ${MOUNTS[1].dir}`,
      `mount -t 9p -o trans=virtio,version=9p2000.L pjd_p9 ${MOUNTS[2].dir}`,
    ].join(" && "),
    { timeoutMs: 120_000 },
  );
  const started = performance.now();
  for (const dir of dirs) {
    const minutes = (performance.now() - started) / 60_000;
    if (minutes >= budgetMin) {
      console.log(
        `budget of ${budgetMin} min reached after ${minutes.toFixed(1)} min: not running ${dir} and on`,
      );
      break;
    }
    for (const mount of MOUNTS) {
      const t0 = performance.now();
      const out = await vm.execChecked(`sh ${SUITE}/run.sh ${mount.dir} ${dir}`, { timeoutMs: 1_800_000 });
      const files = parseRunOutput(out);
      results.get(mount.name)!.push(...files);
      const s = summarize(files);
      console.log(
        `${dir} on ${mount.name}: ${s.files} files, ${s.ok} ok, ${s.notOk} not ok, ${s.todo} todo, ${s.missing} missing ` +
          `(${((performance.now() - t0) / 1000).toFixed(0)} s)${s.failingFiles.length > 0 ? `; failing: ${s.failingFiles.join(" ")}` : ""}`,
      );
    }
    ran.push(dir);
  }
  await vm.poweroff();
  await vm.waitForExit(60_000);
} finally {
  await vm?.stop();
  await where?.clean().catch(() => {});
  await shutdownRigs();
}

const commit = run(
  [
    "git",
    `--git-dir=${existsSync(join(values.source, ".git")) ? join(values.source, ".git") : values.source}`,
    "rev-parse",
    "--short",
    "HEAD",
  ],
  { allowFailure: true },
).stdout.trim();
console.log(`\npjdfstest ${commit || values.source}, test directories run on every mount: ${ran.join(" ")}`);
console.log(
  `${"mount".padEnd(16)}${"files".padStart(7)}${"ok".padStart(7)}${"not ok".padStart(8)}${"todo".padStart(6)}${"missing".padStart(9)}`,
);
for (const mount of MOUNTS) {
  const s = summarize(results.get(mount.name)!);
  console.log(
    `${mount.name.padEnd(16)}${String(s.files).padStart(7)}${String(s.ok).padStart(7)}${String(s.notOk).padStart(8)}${String(s.todo).padStart(6)}${String(s.missing).padStart(9)}`,
  );
}
for (const mount of MOUNTS) {
  const failing = results.get(mount.name)!.filter(fileFailed);
  console.log(`\nfailing files on ${mount.name}: ${failing.length === 0 ? "none" : ""}`);
  for (const f of failing) {
    const missing = missingCases(f);
    console.log(
      `  ${f.name}: ${f.notOk} not ok of ${f.planned}${missing > 0 ? `, ${missing} without a result` : ""}${f.planned === 0 ? " (no plan)" : ""}`,
    );
    for (const line of f.failures.slice(0, 5)) console.log(`    ${line}`);
    if (f.failures.length > 5) console.log(`    ... ${f.failures.length - 5} more`);
  }
}
