// Runs the VMM as a user would, through the CLI (`bun run src/main.ts ...`) or the compiled `dist/crosvm`, and
// collects its exit status, stdout and stderr. startCrosvm leaves the VMM running so that a test can act on it
// (control socket commands, stdin) while watching its output.
import type { FileSink } from "bun";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { scaled } from "../time_scale.ts";

export const ROOT = join(import.meta.dir, "..", "..", "..");
export const DIST_CROSVM = join(ROOT, "dist", "crosvm");

/** One way to launch the VMM from a test: the compiled dist/crosvm, or `bun run src/main.ts`. */
export interface LaunchRunner {
  readonly name: string;
  readonly compiled: boolean;
  readonly available: boolean;
  /** Whether every test of a file runs this way, or only its first (a smoke test of the launch path). */
  readonly everyTest: boolean;
}

/**
 * The launch paths a CLI test file runs through: every test through dist/crosvm; through `bun run src/main.ts`
 * (which transpiles the tree at every start: half a minute a VM under the rig's TCG) only the first test, unless
 * dist/crosvm is absent, when all run there and a warning says the compiled runs are skipped.
 */
export function launchRunners(): LaunchRunner[] {
  const compiled = existsSync(DIST_CROSVM);
  if (!compiled)
    console.warn(`skipping the dist/crosvm tests: ${DIST_CROSVM} is missing (run \`bun run build\`)`);
  return [
    { name: "bun run src/main.ts", compiled: false, available: true, everyTest: !compiled },
    { name: "dist/crosvm", compiled: true, available: compiled, everyTest: true },
  ];
}

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

let pivotRoot: string | undefined;

/**
 * The environment a sandboxed VMM runs in here: an empty DEFAULT_PIVOT_ROOT of its own when none is set, since a
 * sandboxed run refuses to start without its pivot root and these machines have no /var/empty.
 */
export function crosvmEnv(): Record<string, string | undefined> {
  if (pivotRoot === undefined) {
    const made = process.env.DEFAULT_PIVOT_ROOT
      ? undefined
      : mkdtempSync(join(tmpdir(), "crosvm-test-pivot-"));
    if (made) process.once("exit", () => rmSync(made, { recursive: true, force: true }));
    pivotRoot = made ?? process.env.DEFAULT_PIVOT_ROOT!;
  }
  return { ...process.env, DEFAULT_PIVOT_ROOT: pivotRoot };
}

/** The command line that runs crosvm with `args`. */
export function crosvmCommand(args: readonly string[], compiled = false): string[] {
  return compiled ? [DIST_CROSVM, ...args] : ["bun", "run", join(ROOT, "src", "main.ts"), ...args];
}

export async function runCrosvm(args: readonly string[], opts: CliOptions = {}): Promise<CliResult> {
  const vmm = startCrosvm(args, { compiled: opts.compiled, timeoutMs: opts.timeoutMs });
  if (opts.stdin !== undefined) vmm.stdin.write(opts.stdin);
  await vmm.stdin.end();
  if (opts.signal) {
    const { afterOutput, signal } = opts.signal;
    void vmm.waitForOutput(afterOutput).then(
      () => vmm.kill(signal),
      () => {},
    );
  }
  return vmm.result;
}

export interface RunningCrosvm {
  /** The VMM's stdin; end() it when done (startCrosvm with keepStdinOpen: false ends it at once). */
  readonly stdin: FileSink;
  /** Everything the VMM wrote on stdout so far. */
  stdout(): string;
  /** Resolves once stdout contains `text`; rejects after `timeoutMs` or when the VMM exits first. */
  waitForOutput(text: string, timeoutMs?: number): Promise<void>;
  kill(signal?: NodeJS.Signals): void;
  /** The VMM's end; it is killed with SIGKILL after the start's timeoutMs. */
  readonly result: Promise<CliResult>;
}

export function startCrosvm(
  args: readonly string[],
  opts: {
    compiled?: boolean;
    timeoutMs?: number;
    keepStdinOpen?: boolean;
    /** Added to the VMM's environment. */
    env?: Record<string, string>;
  } = {},
): RunningCrosvm {
  const proc = Bun.spawn(crosvmCommand(args, opts.compiled), {
    stdin: "pipe",
    stdout: "pipe",
    stderr: "pipe",
    cwd: ROOT,
    env: { ...crosvmEnv(), ...opts.env },
  });
  if (opts.keepStdinOpen === false) void proc.stdin.end();
  const timer = setTimeout(() => proc.kill("SIGKILL"), scaled(opts.timeoutMs ?? 20_000));
  let text = "";
  const waiters = new Set<{ text: string; resolve: () => void }>();
  const stdoutDone = readStream(proc.stdout, (chunk) => {
    text += chunk;
    for (const w of waiters) if (text.includes(w.text)) w.resolve();
  });
  const result = Promise.all([stdoutDone, new Response(proc.stderr).text(), proc.exited]).then(
    ([, stderr, status]) => {
      clearTimeout(timer);
      return { status, stdout: text, stderr };
    },
  );
  return {
    stdin: proc.stdin,
    stdout: () => text,
    kill: (signal) => proc.kill(signal),
    result,
    waitForOutput(wanted, timeoutMs = scaled(10_000)) {
      if (text.includes(wanted)) return Promise.resolve();
      return new Promise<void>((resolve, reject) => {
        const w = {
          text: wanted,
          resolve: () => {
            cleanup();
            resolve();
          },
        };
        const fail = (why: string) => {
          cleanup();
          reject(
            new Error(
              `waiting for ${JSON.stringify(wanted)} on stdout: ${why}; stdout so far: ${JSON.stringify(text)}`,
            ),
          );
        };
        const t = setTimeout(() => fail(`nothing after ${timeoutMs} ms`), timeoutMs);
        const cleanup = () => {
          clearTimeout(t);
          waiters.delete(w);
        };
        waiters.add(w);
        void result.then((r) => fail(`the VMM exited with ${r.status} (stderr: ${r.stderr.trim()})`));
      });
    },
  };
}

/** Reads a stream to its end, calling `onText` with each decoded chunk. */
async function readStream(stream: ReadableStream<Uint8Array>, onText: (text: string) => void): Promise<void> {
  const decoder = new TextDecoder();
  for await (const chunk of stream) onText(decoder.decode(chunk, { stream: true }));
  onText(decoder.decode());
}
