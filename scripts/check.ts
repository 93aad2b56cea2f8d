// The project's whole check: type-check, format check, build, and every test tier. Prints bun test's own output,
// then a last line "N passed, N failed" where each failed check (tsc, fmt, build) counts as one failure.
// Usage: bun scripts/check.ts [bun test arguments, e.g. test/unit]
import { $, spawn } from "bun";
import { existsSync } from "node:fs";

const root = `${import.meta.dir}/..`;
let passed = 0;
let failed = 0;
/** Every failure's name, printed again just before the last line: CI shows only the tail of the output. */
const failures: string[] = [];
/** The lines bun test printed before each failure's first "(fail)" line (its error and the test's output). */
const failureContexts = new Map<string, string[]>();
/** Lines kept before a failure, and the bytes all failures' details may take at the end (CI shows about 12 KB). */
const CONTEXT_LINES = 80;
const DETAILS_BUDGET = 7000;

async function step(name: string, cmd: string[], shown = cmd.join(" ")): Promise<boolean> {
  console.error(`\n=== ${name}: ${shown}`);
  const proc = spawn(cmd, { cwd: root, stdout: "inherit", stderr: "inherit" });
  const ok = (await proc.exited) === 0;
  if (ok) passed++;
  else {
    failed++;
    failures.push(`${name}: ${shown}`);
    console.error(`=== ${name} FAILED`);
  }
  return ok;
}

await step("typecheck", ["bunx", "tsc", "--noEmit", "-p", "."]);
// Only TypeScript: bun fmt would also reformat the test guests' assembly includes.
const tsFiles = (await $`git ls-files -co --exclude-standard -- "*.ts"`.cwd(root).text())
  .split("\n")
  .filter(Boolean);
await step(
  "format",
  ["bun", "fmt", "--check", ...tsFiles],
  `bun fmt --check (${tsFiles.length} TypeScript files)`,
);
const built = await step("build", ["bun", "run", "build.ts"]);
if (!built) console.error("=== tests that need dist/crosvm will fail");
// The Debian system image (mmdebstrap, minutes the first time; cached in build/guest/debian), outside any test's
// time limit: test/e2e/debian.test.ts and the demo test boot it.
if (process.argv.slice(2).every((a) => a.includes("e2e")))
  await step("debian image", ["bun", "scripts/guest/debian/image.ts"]);

/**
 * Per-test timeout. bun test's own default is 5 s and bunfig.toml cannot change it (no such key), so a test that
 * needs longer on a loaded 2-core machine says so here; tests that need more still set their own.
 */
const TEST_TIMEOUT_MS = "30000";

/** What one bun test run printed about one test file. */
interface FileResult {
  passes: number;
  /** Each failure's "(fail) ..." line, without its time. */
  fails: Set<string>;
  /** Why the outer rig VM was lost while the file ran (the harness's "e2e: rig lost:" line), if it was. */
  rigLost?: string;
}

/** Marks a test file's output in bun test's stderr ("test/e2e/x.test.ts:"), and the start of its closing list. */
const FILE_HEADER = /^(test\/\S+\.test\.ts):$/;
const CLOSING_LIST = /^\d+ tests? failed:$/;
const RIG_LOST = /^e2e: rig lost: (.*)$/;
/** A "(fail) ..." line without bun's time at its end, so that its two printings compare equal. */
const withoutTime = (line: string) => line.replace(/ \[[\d.]+m?s\]$/, "");

/**
 * Runs bun test with `args`, echoing its output; adds its pass/fail counts to the totals. An e2e file during which
 * the outer rig VM was lost (it reset or stopped answering: the rig's doing, not the VMM's) and that had failures
 * runs once more, alone, and its second result counts instead of its first.
 */
async function tests(
  args: string[],
  env: Record<string, string> = {},
  runner = ["bun", "test", "--timeout", TEST_TIMEOUT_MS],
  rerunRigLosses = true,
): Promise<void> {
  const label = Object.entries(env)
    .map(([k, v]) => `${k}=${v} `)
    .join("");
  console.error(`\n=== tests: ${label}${runner.join(" ")} ${args.join(" ")}`);
  const proc = spawn([...runner, ...args], {
    cwd: root,
    stdout: "inherit",
    stderr: "pipe",
    env: { ...process.env, ...env },
  });
  const decoder = new TextDecoder();
  let tail = "";
  let line = "";
  const recent: string[] = [];
  const files = new Map<string, FileResult>();
  let current: FileResult | undefined;
  for await (const chunk of proc.stderr) {
    const text = decoder.decode(chunk, { stream: true });
    process.stderr.write(text);
    tail = (tail + text).slice(-4096);
    const lines = (line + text).split("\n");
    line = lines.pop() ?? "";
    for (const l of lines) {
      const header = FILE_HEADER.exec(l);
      if (header) {
        current = files.get(header[1]!) ?? { passes: 0, fails: new Set() };
        files.set(header[1]!, current);
      } else if (CLOSING_LIST.test(l)) current = undefined;
      const lost = RIG_LOST.exec(l);
      if (lost && current) current.rigLost ??= lost[1];
      if (/^\(pass\) /.test(l) && current) current.passes++;
      if (/^\(fail\) /.test(l)) {
        const name = `${label}${withoutTime(l)}`;
        failures.push(`${label}${l}`);
        current?.fails.add(name);
        if (!failureContexts.has(name)) failureContexts.set(name, [...recent]);
      }
      // A stack's frames after its first say little in a summary.
      if (/^\s+at /.test(l) && /^\s+at /.test(recent.at(-1) ?? "")) continue;
      recent.push(l.length > 200 ? `${l.slice(0, 200)}...` : l);
      if (recent.length > CONTEXT_LINES) recent.shift();
    }
  }
  const exit = await proc.exited;
  // The last summary counts: a runner may print per-file summaries before its total (scripts/kvm_in_rig.ts).
  const last = (what: string) => [...tail.matchAll(new RegExp(`^\\s*(\\d+) ${what}\\s*$`, "gm"))].at(-1)?.[1];
  const pass = Number(last("pass") ?? 0);
  const fail = Number(last("fail") ?? 0);
  passed += pass;
  failed += fail;
  // A runner that died without a summary still counts as a failure.
  if (exit !== 0 && fail === 0) {
    failed++;
    failures.push(`${label}${runner.join(" ")} ${args.join(" ")}: exit ${exit} without a test summary`);
  }
  if (!rerunRigLosses) return;
  for (const [file, result] of files) {
    if (!result.rigLost || result.fails.size === 0 || !file.startsWith("test/e2e/")) continue;
    console.error(`\n=== ${file} again: the outer rig VM was lost while it ran (${result.rigLost})`);
    passed -= result.passes;
    failed -= result.fails.size;
    for (const name of result.fails) {
      failureContexts.delete(name);
      for (let i = failures.length - 1; i >= 0; i--)
        if (withoutTime(failures[i]!) === name) failures.splice(i, 1);
    }
    await tests([file], env, runner, false);
  }
}

const args = process.argv.slice(2);
const isKvmTier = (a: string) => /(^|\/)test\/kvm(\/|$)/.test(a);
if (existsSync("/dev/kvm")) await tests(args);
else {
  // The kvm tier needs /dev/kvm: without one here it runs inside the nested rig's outer VM, which has one.
  const hostArgs = args.length === 0 ? ["test/unit", "test/e2e"] : args.filter((a) => !isKvmTier(a));
  const kvmArgs = args.length === 0 ? ["test/kvm"] : args.filter(isKvmTier);
  if (hostArgs.length > 0) await tests(hostArgs);
  if (kvmArgs.length > 0) await tests(kvmArgs, {}, ["bun", "scripts/kvm_in_rig.ts"]);
}
// Issue 6: the e2e tests also pass with the device processes unconfined (--disable-sandbox). A whole-tree check
// runs one boot with one device of every kind for that (test/e2e/unconfined.test.ts, which runs only in this
// pass), to keep CI's time (issue 15); given e2e files run again unconfined as they are.
const e2eArgs = args.length === 0 ? ["test/e2e/unconfined.test.ts"] : args.filter((a) => a.includes("e2e"));
if (e2eArgs.length > 0) await tests(e2eArgs, { CROSVM_E2E_DISABLE_SANDBOX: "1" });

/** Each failure's last context lines, as many as fit its share of DETAILS_BUDGET. */
function failureDetails(): string {
  // The first failure often explains the rest (a guest that stopped answering fails every later test of its file).
  const first = failureContexts.size === 1 ? DETAILS_BUDGET : Math.floor(DETAILS_BUDGET * 0.6);
  const rest = Math.floor((DETAILS_BUDGET - first) / Math.max(1, failureContexts.size - 1));
  const parts: string[] = [];
  for (const [name, lines] of failureContexts) {
    const share = parts.length === 0 ? first : rest;
    const kept: string[] = [];
    let size = 0;
    for (const l of lines.toReversed()) {
      if (size + l.length + 1 > share) break;
      kept.unshift(l);
      size += l.length + 1;
    }
    parts.push(`--- before ${name}:\n${kept.join("\n")}`);
  }
  return parts.join("\n");
}

if (failureContexts.size > 0)
  console.log(`\n=== failure details (the output just before each failure):\n${failureDetails()}`);
// bun test names each failure twice (as it happens and in its closing list).
const named = [...new Set(failures)];
if (named.length > 0) console.log(`\n=== ${named.length} failures:\n${named.join("\n")}`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
