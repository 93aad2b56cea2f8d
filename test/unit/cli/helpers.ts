// What the command-line tests share: running the crosvm entry (src/main.ts) in a process of its own, and capturing
// what runCli writes when it runs in the test's process.
import { join } from "node:path";
import type { CliIo } from "../../../src/cli/cli.ts";

const MAIN = join(import.meta.dir, "../../../src/main.ts");

/** Runs `crosvm ARGS` from source with stdin closed. */
export async function crosvm(...args: string[]): Promise<{ status: number; stdout: string; stderr: string }> {
  const proc = Bun.spawn([process.execPath, MAIN, ...args], {
    stdout: "pipe",
    stderr: "pipe",
    stdin: "ignore",
  });
  const [stdout, stderr, status] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ]);
  return { status, stdout, stderr };
}

/** A CliIo that keeps what the command line writes. */
export function capture(): CliIo & { stdout: string; stderr: string } {
  const io = {
    stdout: "",
    stderr: "",
    async out(text: string) {
      io.stdout += text;
    },
    async err(text: string) {
      io.stderr += text;
    },
  };
  return io;
}
