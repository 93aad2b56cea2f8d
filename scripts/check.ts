// The project's whole check: type-check, format check, build, and every test tier. Prints bun test's own output,
// then a last line "N passed, N failed" where each failed check (tsc, fmt, build) counts as one failure.
// Usage: bun scripts/check.ts [bun test arguments, e.g. test/unit]
import { $, spawn } from "bun";

const root = `${import.meta.dir}/..`;
let passed = 0;
let failed = 0;

async function step(name: string, cmd: string[], shown = cmd.join(" ")): Promise<boolean> {
  console.error(`\n=== ${name}: ${shown}`);
  const proc = spawn(cmd, { cwd: root, stdout: "inherit", stderr: "inherit" });
  const ok = (await proc.exited) === 0;
  if (ok) passed++;
  else {
    failed++;
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

console.error(`\n=== tests: bun test ${process.argv.slice(2).join(" ")}`);
const tests = spawn(["bun", "test", ...process.argv.slice(2)], {
  cwd: root,
  stdout: "inherit",
  stderr: "pipe",
});
const decoder = new TextDecoder();
let tail = "";
for await (const chunk of tests.stderr) {
  const text = decoder.decode(chunk);
  process.stderr.write(text);
  tail = (tail + text).slice(-4096);
}
const testExit = await tests.exited;
const pass = Number(/^\s*(\d+) pass\s*$/m.exec(tail)?.[1] ?? 0);
const fail = Number(/^\s*(\d+) fail\s*$/m.exec(tail)?.[1] ?? 0);
passed += pass;
failed += fail;
// A runner that died without a summary still counts as a failure.
if (testExit !== 0 && fail === 0) failed++;

console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
