// Builds the single `crosvm` executable: `bun run build` -> dist/crosvm.
// The vCPU Worker and the wait loop's Worker (src/base/wait_loop_worker.ts) are entry points too, so that
// `new Worker(new URL("./vcpu_worker.ts", import.meta.url))` resolves inside the compiled executable.
// Memory (bench/memory): every device process is this same executable, so what one process loads at start-up is
// paid once per device. Code splitting turns src/main.ts's dynamic imports into chunks of their own: a device
// process (`crosvm device-process`) loads the device-side chunks only, never the CLI and VMM code (with one
// bundle it parsed all of it, about 1.7 MiB more heap per process). Bytecode moves parsing to build time and
// JavaScriptCore decodes only the functions that run (about 0.4 MiB less per device process, 2 MiB less in the
// VMM). Bytecode with code splitting needs the ESM output format.
import { $ } from "bun";
import { existsSync, mkdirSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { seccompPoliciesPlugin } from "./src/jail/seccomp/build_policies.ts";

const root = import.meta.dir;
const outfile = join(root, "dist", "crosvm");

const entrypoints = [
  "src/main.ts",
  "src/vmm/vcpu_worker.ts",
  "src/base/wait_loop_worker.ts",
  "src/jail/device_process/device_worker.ts",
  "src/vmm/ram_collapse_worker.ts",
].map((p) => join(root, p));
for (const entry of entrypoints) {
  if (!existsSync(entry)) throw new Error(`build: entry point ${entry} is missing`);
}

const dist = join(root, "dist");
mkdirSync(dist, { recursive: true });
// Each build names its chunks by content hash and writes their source maps beside the executable: drop the old.
for (const name of readdirSync(dist)) if (/^chunk-.*\.js\.map$/.test(name)) rmSync(join(dist, name));
const result = await Bun.build({
  entrypoints,
  compile: { outfile, autoloadBunfig: false, autoloadDotenv: false },
  splitting: true,
  bytecode: true,
  format: "esm",
  minify: false,
  sourcemap: "inline",
  // Compiles every policy/*.policy to BPF and embeds the programs; a malformed policy fails the build.
  plugins: [seccompPoliciesPlugin(join(root, "policy"))],
});
if (!result.success) {
  for (const log of result.logs) console.error(log);
  process.exit(1);
}
await $`chmod +x ${outfile}`;
console.log(`built ${outfile}`);
