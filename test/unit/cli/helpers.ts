// What the command-line tests share: running the crosvm entry (src/main.ts) in a process of its own, capturing
// what runCli writes when it runs in the test's process, and parsing `crosvm run` arguments into a VmConfig.
import { join } from "node:path";
import type { CliIo } from "../../../src/cli/cli.ts";
import { ArgumentError, ConfigError } from "../../../src/cli/errors.ts";
import { parseRunConfig } from "../../../src/cli/parse_run.ts";
import type { VmConfig } from "../../../src/vmm/config.ts";

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

/** The VmConfig `crosvm run ARGV` makes (parsed in the test's process). */
export function runConfig(...argv: string[]): VmConfig {
  const parsed = parseRunConfig(argv, { extendedStatus: false });
  if (parsed.help) throw new Error("help requested");
  return parsed.config;
}

/** How `crosvm run ARGV` is refused: its one-line message and exit code; throws when it is accepted. */
export function runRefusal(...argv: string[]): { message: string; exitCode: number } {
  try {
    parseRunConfig(argv, { extendedStatus: false });
  } catch (e) {
    if (e instanceof ArgumentError || e instanceof ConfigError)
      return { message: e.message, exitCode: e.exitCode };
    throw e;
  }
  throw new Error(`${argv.join(" ")} was accepted`);
}
