// Runs the VMM as a user would, through the CLI (`bun run src/main.ts ...`) or the compiled `dist/crosvm`, and
// collects its exit status, stdout and stderr.
import { join } from "node:path";

export const ROOT = join(import.meta.dir, "..", "..", "..");
export const DIST_CROSVM = join(ROOT, "dist", "crosvm");

export interface CliResult {
  readonly status: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface CliOptions {
  /** Bytes for the VMM's stdin (closed after writing); stdin is empty otherwise. */
  readonly stdin?: string;
  /** Use dist/crosvm instead of `bun run src/main.ts`. */
  readonly compiled?: boolean;
  readonly timeoutMs?: number;
  /** Sends `signal` to the VMM once its stdout contains `afterOutput`. */
  readonly signal?: { readonly afterOutput: string; readonly signal: NodeJS.Signals };
}

export async function runCrosvm(args: readonly string[], opts: CliOptions = {}): Promise<CliResult> {
  const cmd = opts.compiled ? [DIST_CROSVM, ...args] : ["bun", "run", join(ROOT, "src", "main.ts"), ...args];
  const proc = Bun.spawn(cmd, { stdin: "pipe", stdout: "pipe", stderr: "pipe", cwd: ROOT });
  if (opts.stdin !== undefined) proc.stdin.write(opts.stdin);
  await proc.stdin.end();
  const timer = setTimeout(() => proc.kill("SIGKILL"), opts.timeoutMs ?? 20_000);
  let signalled = false;
  const [stdout, stderr, status] = await Promise.all([
    readStdout(proc.stdout, (text) => {
      if (opts.signal && !signalled && text.includes(opts.signal.afterOutput)) {
        signalled = true;
        proc.kill(opts.signal.signal);
      }
    }),
    new Response(proc.stderr).text(),
    proc.exited,
  ]);
  clearTimeout(timer);
  return { status, stdout, stderr };
}

/** Reads a stream to its end, calling `onText` with everything read so far after each chunk. */
async function readStdout(
  stream: ReadableStream<Uint8Array>,
  onText: (text: string) => void,
): Promise<string> {
  const decoder = new TextDecoder();
  let text = "";
  for await (const chunk of stream) {
    text += decoder.decode(chunk, { stream: true });
    onText(text);
  }
  return text + decoder.decode();
}
