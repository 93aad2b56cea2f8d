// One outer rig VM (QEMU/TCG with emulated AMD-V, as in test/e2e/harness/rig.ts) carrying both nested VMMs,
// dist/crosvm at /usr/bin/crosvm and QEMU at /usr/bin/qemu-system-x86_64, so that the benchmarks compare them in
// the same environment. Only two serial ports: ttyS0 the outer console, ttyS1 its control agent; the nested
// guests' ports go to files inside the outer VM. Callers hold /tmp/crosvm-rig.lock (other rig users share it).
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ensureGuestImages } from "../../scripts/guest/build.ts";
import { repoRoot } from "../../scripts/guest/paths.ts";
import { ensureRigImageWith, nestedVmmPayload } from "../../scripts/guest/rig/outer_image.ts";
import { outerQemuCommand } from "../../scripts/guest/rig/outer_qemu.ts";
import { AgentClient, type ExecResult } from "../../test/e2e/harness/agent_client.ts";
import { diesWithParent } from "../../test/e2e/harness/orphan_guard.ts";
import { SerialPipe } from "../../test/e2e/harness/serial_pipe.ts";
import { tail } from "../../test/e2e/harness/timeout.ts";

/**
 * dist/crosvm, or CROSVM_BENCH_BINARY (to compare two builds). The outer image is rebuilt only when an input is
 * newer than it, so `touch` a binary that is older than the last image before running with it.
 */
export const crosvmHostPath = process.env.CROSVM_BENCH_BINARY ?? join(repoRoot, "dist/crosvm");
const qemuHostPath = Bun.which("qemu-system-x86_64") ?? "/usr/bin/qemu-system-x86_64";

/** The outer initramfs with both nested VMMs and the guest images (built when missing or stale). */
export async function ensureBenchRigImage(): Promise<string> {
  if (!existsSync(crosvmHostPath)) throw new Error(`${crosvmHostPath} is missing: run \`bun run build\``);
  await ensureGuestImages();
  return ensureRigImageWith("bench", [
    ...nestedVmmPayload("crosvm", crosvmHostPath),
    ...nestedVmmPayload("qemu", qemuHostPath),
  ]);
}

export class OuterVm {
  private constructor(
    private readonly proc: Bun.Subprocess,
    private readonly workDir: string,
    private readonly console: SerialPipe,
    private readonly controlPipe: SerialPipe,
    private readonly control: AgentClient,
  ) {}

  /** Milliseconds from spawning the outer QEMU to its agent's ready line. */
  startMs = 0;

  /** scratchDir: a host folder the outer VM mounts at /scratch (9p), e.g. for disk images. */
  static async start(opts: { memMiB?: number; cpus?: number; scratchDir?: string } = {}): Promise<OuterVm> {
    const image = await ensureBenchRigImage();
    const workDir = mkdtempSync(join(tmpdir(), "crosvm-bench-rig-"));
    const console = SerialPipe.create(join(workDir, "ttyS0"));
    const controlPipe = SerialPipe.create(join(workDir, "ttyS1"));
    const cmd = outerQemuCommand({
      image,
      append: "console=ttyS0 panic=-1 agent=ttyS1 quiet",
      serialBases: [console.base, controlPipe.base],
      memMiB: opts.memMiB,
      cpus: opts.cpus,
      scratchDir: opts.scratchDir,
    });
    const started = performance.now();
    const proc = Bun.spawn(diesWithParent(cmd), { stdin: "ignore", stdout: "pipe", stderr: "pipe" });
    const control = new AgentClient(
      "bench rig control",
      (line) => controlPipe.write(line),
      () => `outer console:\n${tail(console.text)}`,
    );
    controlPipe.onData((text) => control.feed(text));
    const vm = new OuterVm(proc, workDir, console, controlPipe, control);
    outerVmsAlive.add(vm);
    try {
      await Promise.race([
        control.waitReady(180_000),
        proc.exited.then(async (code) => {
          const err = await new Response(proc.stderr).text();
          throw new Error(`outer QEMU exited with ${code} before its agent was ready: ${err.trim()}`);
        }),
      ]);
    } catch (error) {
      await vm.stop();
      throw error;
    }
    vm.startMs = performance.now() - started;
    return vm;
  }

  /** The end of the outer VM's console, for failure reports. */
  consoleTail(lines = 15): string {
    return tail(this.console.text, lines);
  }

  /** True when the outer VM's agent answers within a few seconds. */
  async responsive(): Promise<boolean> {
    return this.exec("true", 5_000).then(
      (r) => r.exitCode === 0,
      () => false,
    );
  }

  /** Runs a busybox sh script in the outer VM. */
  exec(script: string, timeoutMs = 60_000): Promise<ExecResult> {
    return this.control.exec(script, { timeoutMs });
  }

  /** Like exec, but throws with the script's stderr when it fails. */
  async run(script: string, timeoutMs = 60_000): Promise<string> {
    const r = await this.exec(script, timeoutMs);
    if (r.exitCode !== 0)
      throw new Error(`outer VM: script failed (exit ${r.exitCode}): ${r.stderr.trim()}\n${script}`);
    return r.stdout;
  }

  /** Writes `text` to `path` in the outer VM (small files: it travels over the control port). */
  async writeFile(path: string, text: string): Promise<void> {
    const b64 = Buffer.from(text).toString("base64");
    await this.run(`echo ${b64} | base64 -d > ${path}`);
  }

  async stop(): Promise<void> {
    outerVmsAlive.delete(this);
    this.proc.kill("SIGKILL");
    await Promise.race([this.proc.exited, Bun.sleep(5000)]);
    this.console.close();
    this.controlPipe.close();
    rmSync(this.workDir, { recursive: true, force: true });
  }
}

// A benchmark that dies must not leave a TCG QEMU spinning on the shared cores.
const outerVmsAlive = new Set<OuterVm>();
process.on("exit", () => {
  for (const vm of outerVmsAlive) vm.stop();
});
process.on("SIGINT", () => process.exit(130));
