// Runs a host command synchronously for the image builders; a failure names the command and its stderr.

export interface RunResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export function run(cmd: string[], opts: { cwd?: string; allowFailure?: boolean } = {}): RunResult {
  const proc = Bun.spawnSync(cmd, { cwd: opts.cwd, stdout: "pipe", stderr: "pipe" });
  const result = {
    exitCode: proc.exitCode ?? -1,
    stdout: proc.stdout.toString(),
    stderr: proc.stderr.toString(),
  };
  if (result.exitCode !== 0 && !opts.allowFailure) {
    throw new Error(`${cmd.join(" ")} exited with ${result.exitCode}: ${result.stderr.trim()}`);
  }
  return result;
}
