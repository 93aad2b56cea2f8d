// Runs the kvm test tier inside the nested rig, for a host whose /dev/kvm is missing (shared/notes/kvm-here.md:
// the outer rig VM has /dev/kvm with hardware semantics). The tree is shared with the outer VM over its 9p scratch
// folder (hard links, nothing copied), with Bun's own binary beside it and the test guests assembled here, since
// the outer VM has no binutils. bun test's output is streamed to stderr as it is written; the exit status is
// bun test's.
// Usage: bun scripts/kvm_in_rig.ts [bun test arguments]   (default: test/kvm; needs dist/crosvm: bun run build.ts)
import { $ } from "bun";
import {
  existsSync,
  linkSync,
  mkdirSync,
  openSync,
  readSync,
  closeSync,
  realpathSync,
  statSync,
} from "node:fs";
import { join, resolve } from "node:path";
import { Rig } from "../test/e2e/harness/rig.ts";
import { prebuildGuests } from "../test/kvm/vmm/guest_build.ts";

const root = resolve(import.meta.dir, "..");
const crosvm = join(root, "dist/crosvm");
/** What bun test needs of the tree; the devDependencies (bun, typescript: ~150 MB) stay behind. */
const TREE = ["src", "ffi", "policy", "test", "package.json", "bunfig.toml", "tsconfig.json", "dist/crosvm"];
const RUNTIME_MODULES = ["citty", "consola", "valibot"];
/** One test under TCG, which runs the tiny guests' VMMs about ten times slower than the host would. */
const PER_TEST_TIMEOUT_MS = 60_000;
/** The whole tier, with its slowest tests, under TCG. */
const TIER_TIMEOUT_MS = 40 * 60_000;

/** Hard-links (or, across file systems, copies) `from` to `to`, directories recursively. */
async function share(from: string, to: string): Promise<void> {
  mkdirSync(join(to, ".."), { recursive: true });
  await $`cp -a --link ${from} ${to}`.quiet().catch(() => $`cp -a ${from} ${to}`.quiet());
}

/** Appends to stderr whatever `path` gained since `offset`; returns the new offset. */
function follow(path: string, offset: number): number {
  if (!existsSync(path)) return offset;
  const size = statSync(path).size;
  if (size <= offset) return offset;
  const buf = Buffer.alloc(size - offset);
  const fd = openSync(path, "r");
  try {
    readSync(fd, buf, 0, buf.length, offset);
  } finally {
    closeSync(fd);
  }
  process.stderr.write(buf);
  return size;
}

if (!existsSync(crosvm)) {
  console.error(`kvm_in_rig: ${crosvm} is missing (run bun run build.ts first)`);
  process.exit(2);
}
const args = process.argv.slice(2);
const testArgs = args.length > 0 ? args : ["test/kvm"];

console.error("kvm_in_rig: starting the outer rig VM (no usable /dev/kvm on this host)");
const rigOptions = { vmm: "crosvm", vmmHostPath: crosvm, memMiB: 3072 } as const;
// An outer VM that does not come up is the rig's own flake (test/e2e/harness/test_vm.ts starts it once more too).
const rig = await Rig.start(rigOptions).catch((error: Error) => {
  console.error(`kvm_in_rig: the outer rig VM did not start; starting it once more: ${error.message}`);
  return Rig.start(rigOptions);
});
let status = 1;
try {
  const tree = join(rig.scratchDir, "tree");
  for (const entry of TREE) await share(join(root, entry), join(tree, entry));
  for (const m of RUNTIME_MODULES) await share(join(root, "node_modules", m), join(tree, "node_modules", m));
  const bin = join(rig.scratchDir, "bin");
  mkdirSync(bin);
  const bun = realpathSync(Bun.which("bun") ?? "bun");
  try {
    linkSync(bun, join(bin, "bun"));
  } catch {
    await $`cp ${bun} ${join(bin, "bun")}`.quiet();
  }
  const guests = join(rig.scratchDir, "guests");
  mkdirSync(guests);
  const images = await prebuildGuests(guests);
  console.error(
    `kvm_in_rig: ${images} test guests assembled; running bun test ${testArgs.join(" ")} in the rig`,
  );

  const log = join(rig.scratchDir, "bun-test.log");
  const quoted = testArgs.map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(" ");
  const script = [
    "cd /scratch/tree || exit 97",
    "export PATH=/scratch/bin:$PATH CROSVM_KVM_PREBUILT_GUESTS=/scratch/guests",
    // Every test gets TCG's time: tests on their default 5 s time out there with nothing wrong.
    `bun test --timeout ${PER_TEST_TIMEOUT_MS} ${quoted} > /scratch/bun-test.log 2>&1`,
  ].join("\n");
  let offset = 0;
  const tail = setInterval(() => (offset = follow(log, offset)), 1000);
  try {
    const result = await rig.control.exec(script, { timeoutMs: TIER_TIMEOUT_MS });
    status = result.exitCode;
    if (result.stderr.trim()) console.error(result.stderr.trim());
  } finally {
    clearInterval(tail);
    follow(log, offset);
  }
} catch (error) {
  console.error(`kvm_in_rig: ${(error as Error).message}`);
} finally {
  await rig.stop();
}
process.exit(status);
