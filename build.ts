// Builds the single `crosvm` executable: `bun run build` -> dist/crosvm.
// The vCPU Worker is a second entry point so that `new Worker(new URL("./vcpu_worker.ts", import.meta.url))`
// resolves inside the compiled executable.
import { $ } from "bun";
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { seccompPoliciesPlugin } from "./src/jail/seccomp/build_policies.ts";

const root = import.meta.dir;
const outfile = join(root, "dist", "crosvm");

const entrypoints = ["src/main.ts", "src/vmm/vcpu_worker.ts"].map((p) => join(root, p));
for (const entry of entrypoints) {
  if (!existsSync(entry)) throw new Error(`build: entry point ${entry} is missing`);
}

mkdirSync(join(root, "dist"), { recursive: true });
const result = await Bun.build({
  entrypoints,
  compile: { outfile, autoloadBunfig: false, autoloadDotenv: false },
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
