// A VMM running the "spin" guest with one disk, for tests that look at its processes from outside: a folder with
// the disk image and an empty pivot root, and a start that resolves once the guest runs.
import { afterAll, beforeAll } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { guestImage } from "../vmm/guest_build.ts";
import { crosvmCommand, ROOT } from "../vmm/run_cli.ts";

export interface VmFiles {
  readonly dir: string;
  /** A 1 MiB raw disk image. */
  readonly disk: string;
  /** An empty folder for DEFAULT_PIVOT_ROOT. */
  readonly pivot: string;
}

/** Registers hooks that create the files before the file's tests and remove them after; read them in tests. */
export function useVmFiles(prefix: string): () => VmFiles {
  let files: VmFiles | undefined;
  beforeAll(() => {
    const dir = mkdtempSync(join(tmpdir(), prefix));
    const disk = join(dir, "disk.img");
    writeFileSync(disk, new Uint8Array(1 << 20));
    const pivot = join(dir, "empty");
    mkdirSync(pivot);
    files = { dir, disk, pivot };
  });
  afterAll(() => rmSync(files!.dir, { recursive: true, force: true }));
  return () => files!;
}

/**
 * Starts `crosvm run ARGS --bios spin` and resolves once the guest says "spinning": device processes say Hello
 * only once confined, and the vCPUs start after every Hello.
 */
export async function startSpinningVm(
  args: readonly string[],
  env: Record<string, string> = {},
): Promise<Bun.Subprocess<"pipe", "pipe", "pipe">> {
  const command = crosvmCommand(["run", ...args, "--bios", await guestImage("spin")]);
  const proc = Bun.spawn(command, {
    stdin: "pipe",
    stdout: "pipe",
    stderr: "pipe",
    cwd: ROOT,
    env: { ...process.env, ...env },
  });
  const reader = proc.stdout.getReader();
  let out = "";
  while (!out.includes("spinning")) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`the VMM ended early: ${await new Response(proc.stderr).text()}`);
    out += new TextDecoder().decode(value);
  }
  reader.releaseLock();
  return proc;
}
