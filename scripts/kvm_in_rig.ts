// Runs the kvm test tier inside the nested rig, for a host whose /dev/kvm is missing (shared/notes/kvm-here.md:
// the outer rig VM has /dev/kvm with hardware semantics). A copy of the tree (so edits made while the tier runs do
// not reach it) and Bun's own binary go over the outer VM's 9p scratch folder into its RAM-backed root; the test
// guests are assembled here, since the outer VM has no binutils.
// Each test file runs on its own as a background job in the outer VM, its output streamed to stderr as it is
// written. Meanwhile the outer VM's control agent is asked every few seconds whether it still answers: an outer VM
// that stops answering wedged on its own (TCG; see test/e2e/harness/boot_retry.ts), so the file is run again on a
// new outer VM, once, and that is said on stderr; a file whose second outer VM wedges too fails, and the next file
// gets a new one (at most MAX_RIG_RESTARTS in a tier). A file that hangs while the outer VM answers is ours: it fails.
// The last lines are bun test's summary over all files (" N pass", " N fail"); the exit status is 0 when none failed.
// Usage: bun scripts/kvm_in_rig.ts [test files or folders]   (default: test/kvm; needs dist/crosvm)
import { $ } from "bun";
import { existsSync, mkdirSync, readFileSync, realpathSync, statSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { Rig } from "../test/e2e/harness/rig.ts";
import { prebuildGuests } from "../test/kvm/vmm/guest_build.ts";

const root = resolve(import.meta.dir, "..");
const crosvm = join(root, "dist/crosvm");
/** What bun test needs of the tree; the devDependencies (bun, typescript: ~150 MB) stay behind. */
const TREE = ["src", "ffi", "policy", "test", "package.json", "bunfig.toml", "tsconfig.json", "dist/crosvm"];
const RUNTIME_MODULES = ["citty", "consola", "valibot"];
/** Where the tree and Bun are in the outer VM. */
const LOCAL = "/opt/kvm-tier";
/** How much longer the tier's own waits may take under TCG (test/kvm/time_scale.ts). */
const TIME_SCALE = 6;
/** One test under TCG, which runs the tiny guests' VMMs about ten times slower than the host would. */
const PER_TEST_TIMEOUT_MS = 60_000;
/** One test file; past this with the outer VM still answering, the file hangs and fails. */
const PER_FILE_TIMEOUT_MS = 15 * 60_000;
/** How often the outer VM's agent is asked to answer, and how long it may take. */
const LIVENESS_EVERY_MS = 10_000;
const LIVENESS_TIMEOUT_MS = 60_000;
/** New outer VMs for one tier at most: each wedged one costs a minute and a start-up. */
const MAX_RIG_RESTARTS = 3;

/** Copies `from` to `to`, directories recursively. */
async function share(from: string, to: string): Promise<void> {
  mkdirSync(join(to, ".."), { recursive: true });
  await $`cp -a ${from} ${to}`.quiet();
}

/** The test files `args` name (files as given, folders searched for *.test.ts), relative to the tree. */
function testFiles(args: readonly string[]): string[] {
  return args.flatMap((arg) => {
    const path = resolve(root, arg);
    if (!statSync(path).isDirectory()) return [relative(root, path)];
    return [...new Bun.Glob("**/*.test.ts").scanSync(path)].sort().map((f) => relative(root, join(path, f)));
  });
}

/** Starts an outer VM with the tree, Bun and the test guests in its scratch folder. */
async function startRig(): Promise<Rig> {
  const rig = await Rig.startOnceMore({ vmm: "crosvm", vmmHostPath: crosvm, memMiB: 3072 }, "kvm_in_rig");
  const tree = join(rig.scratchDir, "tree");
  for (const entry of TREE) await share(join(root, entry), join(tree, entry));
  for (const m of RUNTIME_MODULES) await share(join(root, "node_modules", m), join(tree, "node_modules", m));
  const bin = join(rig.scratchDir, "bin");
  mkdirSync(bin);
  await share(realpathSync(Bun.which("bun") ?? "bun"), join(bin, "bun"));
  const guests = join(rig.scratchDir, "guests");
  mkdirSync(guests);
  await prebuildGuests(guests);
  mkdirSync(join(rig.scratchDir, "runs"));
  // Into the outer VM's own RAM-backed root: executables mapped from 9p do not share page-cache pages between
  // processes as on a real host, which skews what the tests measure of them (device_process_memory.test.ts).
  const copied = await rig.control.exec(
    `rm -rf ${LOCAL} && mkdir -p ${LOCAL} && cp -a /scratch/tree /scratch/bin ${LOCAL}/`,
    {
      timeoutMs: LIVENESS_TIMEOUT_MS * 5,
    },
  );
  if (copied.exitCode !== 0)
    throw new Error(`copying the tree into the outer VM failed: ${copied.stderr.trim()}`);
  return rig;
}

type FileOutcome =
  | { kind: "done"; log: string; exitCode: number }
  | { kind: "hung"; log: string }
  | { kind: "rig-wedged"; log: string; why: string };

let runs = 0;

/** Runs one test file in the outer VM as a background job and waits for it, watching the outer VM's agent. */
async function runFile(rig: Rig, file: string): Promise<FileOutcome> {
  const id = ++runs;
  const hostLog = join(rig.scratchDir, "runs", `${id}.log`);
  const hostStatus = join(rig.scratchDir, "runs", `${id}.status`);
  const quoted = `'${file.replaceAll("'", "'\\''")}'`;
  const job = [
    `cd ${LOCAL}/tree || exit 97`,
    `export PATH=${LOCAL}/bin:$PATH CROSVM_KVM_PREBUILT_GUESTS=/scratch/guests CROSVM_TEST_TIME_SCALE=${TIME_SCALE}`,
    // Every test gets TCG's time: tests on their default 5 s time out there with nothing wrong.
    `bun test --timeout ${PER_TEST_TIMEOUT_MS} ${quoted} > /scratch/runs/${id}.log 2>&1`,
    `echo $? > /scratch/runs/${id}.status.tmp && mv /scratch/runs/${id}.status.tmp /scratch/runs/${id}.status`,
  ].join("\n");
  await Bun.write(join(rig.scratchDir, "runs", `${id}.sh`), `${job}\n`);
  await rig.control.exec(`setsid sh /scratch/runs/${id}.sh < /dev/null > /dev/null 2>&1 &`, {
    timeoutMs: LIVENESS_TIMEOUT_MS,
  });

  let shown = 0;
  const show = () => {
    if (!existsSync(hostLog)) return;
    const text = readFileSync(hostLog);
    if (text.length > shown) process.stderr.write(text.subarray(shown));
    shown = text.length;
  };
  const log = () => (existsSync(hostLog) ? readFileSync(hostLog, "utf8") : "");
  const deadline = performance.now() + PER_FILE_TIMEOUT_MS;
  let lastLiveness = performance.now();
  for (;;) {
    await Bun.sleep(1000);
    show();
    if (existsSync(hostStatus))
      return { kind: "done", log: log(), exitCode: Number(readFileSync(hostStatus, "utf8")) };
    if (performance.now() - lastLiveness >= LIVENESS_EVERY_MS) {
      lastLiveness = performance.now();
      const answered = await rig.control
        .exec("true", { timeoutMs: LIVENESS_TIMEOUT_MS })
        .then(() => undefined)
        .catch((error: Error) => error.message.split("\n")[0]);
      if (answered !== undefined) return { kind: "rig-wedged", log: log(), why: answered };
    }
    if (performance.now() > deadline) {
      await rig.control.exec(`pkill -f ${quoted}`, { timeoutMs: LIVENESS_TIMEOUT_MS }).catch(() => {});
      return { kind: "hung", log: log() };
    }
  }
}

function count(log: string, what: "pass" | "fail"): number {
  return Number(new RegExp(`^\\s*(\\d+) ${what}\\s*$`, "m").exec(log)?.[1] ?? 0);
}

if (!existsSync(crosvm)) {
  console.error(`kvm_in_rig: ${crosvm} is missing (run bun run build.ts first)`);
  process.exit(2);
}
const args = process.argv.slice(2);
const files = testFiles(args.length > 0 ? args : ["test/kvm"]);
console.error(
  `kvm_in_rig: ${files.length} test files; starting the outer rig VM (no usable /dev/kvm on this host)`,
);

let passed = 0;
let failed = 0;
let rigRestarts = 0;
let rig = await startRig();
/** Replaces a wedged outer VM; false once MAX_RIG_RESTARTS are used up (the rest of the tier then fails). */
async function replaceRig(why: string): Promise<boolean> {
  if (rigRestarts >= MAX_RIG_RESTARTS) return false;
  rigRestarts++;
  rig.abandon(why);
  await rig.stop();
  rig = await startRig();
  return true;
}
try {
  for (const [index, file] of files.entries()) {
    console.error(`\n${file} (in the rig):`);
    let outcome = await runFile(rig, file);
    const retried = outcome.kind === "rig-wedged" && rigRestarts < MAX_RIG_RESTARTS;
    if (retried && outcome.kind === "rig-wedged") {
      console.error(
        `\nkvm_in_rig: the outer rig VM stopped answering during ${file} (${outcome.why}); running it again on a new outer VM`,
      );
      await replaceRig(outcome.why);
      outcome = await runFile(rig, file);
    }
    const pass = count(outcome.log, "pass");
    const fail = count(outcome.log, "fail");
    passed += pass;
    failed += fail;
    if (outcome.kind === "hung") {
      console.error(
        `\nkvm_in_rig: ${file} did not finish within ${PER_FILE_TIMEOUT_MS / 60_000} min (the rig answers)`,
      );
      failed++;
    } else if (outcome.kind === "rig-wedged") {
      console.error(
        `\nkvm_in_rig: the outer rig VM stopped answering${retried ? " again" : ""} during ${file} (${outcome.why})`,
      );
      failed++;
      // The next file gets a new outer VM, not the wedged one.
      const more = index < files.length - 1;
      if (more && !(await replaceRig(outcome.why)))
        throw new Error(
          `the outer rig VM wedged again after ${MAX_RIG_RESTARTS} new ones; the remaining files did not run`,
        );
    } else if (outcome.exitCode !== 0 && fail === 0) failed++;
  }
} catch (error) {
  console.error(`kvm_in_rig: ${(error as Error).message}`);
  failed++;
} finally {
  await rig.stop();
}
console.error(`\n ${passed} pass\n ${failed} fail`);
process.exit(failed === 0 ? 0 : 1);
