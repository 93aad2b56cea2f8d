// The nested rig: where the host has no hardware virtualization, an outer Linux VM runs under QEMU/TCG with
// emulated AMD-V (-cpu EPYC,+svm; kvm + kvm_amd loaded by its /init), and the VMM under test runs inside it
// (shared/notes/kvm-here.md). The outer VM's one serial port, ttyS0, is its console and carries the outer kernel's
// messages only. Everything else crosses virtio-serial ports (host FIFO pairs), never an emulated 8250: heavy
// output through the outer VM's 8250 stalled the outer VM for minutes, and its 8250 driver once deadlocked on an
// interrupt the emulated CPU delivered with interrupts disabled, while our vCPU thread wrote guest console output.
//   /dev/virtio-ports/rig.control     the outer control agent
//   /dev/virtio-ports/nested.console  the nested guest's console (nested VMM serial 1, through port-bridge)
//   /dev/virtio-ports/nested.agent    the nested guest's agent (nested VMM serial 2, through port-bridge)
// The outer VM's payload (nested VMM, its libraries, guest images) is packed into its initramfs.
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ensureGuestImages } from "../../../scripts/guest/build.ts";
import { ensureRigImage, type NestedVmmKind } from "../../../scripts/guest/rig/outer_image.ts";
import { outerQemuCommand } from "../../../scripts/guest/rig/outer_qemu.ts";
import { AgentClient } from "./agent_client.ts";
import { saveFailureLogs } from "./failure_logs.ts";
import { diesWithParent } from "./orphan_guard.ts";
import { SerialPipe } from "./serial_pipe.ts";
import { tail } from "./timeout.ts";

export interface RigOptions {
  vmm: NestedVmmKind;
  /** The nested VMM executable on the host, carried into the outer VM. */
  vmmHostPath: string;
  /** Outer VM memory; nested guests and the initramfs payload share it. Default 2048 MiB. */
  memMiB?: number;
  /** Outer VM vCPUs (QEMU TCG threads). Default 2. */
  cpus?: number;
  /** How long the outer VM may take to its control agent. Default 120 s. */
  bootTimeoutMs?: number;
}

/** The outer VM's virtio-serial ports, in the order given to QEMU. */
const rigPorts = ["rig.control", "nested.console", "nested.agent"] as const;

/**
 * The nested VMM's serial ports inside the outer VM: FIFO pairs BASE.in/BASE.out that /sbin/port-bridge
 * (scripts/guest/rig/port_bridge) connects to the virtio-serial port of the same role for one VMM run.
 */
export const rigNestedPorts = {
  console: { port: "/dev/virtio-ports/nested.console", base: "/run/nested/console" },
  agent: { port: "/dev/virtio-ports/nested.agent", base: "/run/nested/agent" },
} as const;

/** True where /proc/cpuinfo shows Intel VT-x (vmx) or AMD-V (svm), so a VMM can run Linux directly. */
export function hostHasHardwareVirtualization(): boolean {
  try {
    return /^flags\s*:.*\b(vmx|svm)\b/m.test(readFileSync("/proc/cpuinfo", "utf8"));
  } catch {
    return false;
  }
}

export class Rig {
  /** Milliseconds from spawning the outer QEMU to its control agent's ready line. */
  startMs = 0;
  /** Resolves, saying how, when the outer QEMU exits (on its own or killed). */
  readonly gone: Promise<string>;

  private constructor(
    readonly vmm: NestedVmmKind,
    readonly workDir: string,
    /** Host folder mounted at /scratch in the outer VM (9p), for files tests hand to the nested VMM. */
    readonly scratchDir: string,
    private readonly proc: Bun.Subprocess,
    readonly console: SerialPipe,
    readonly control: AgentClient,
    private readonly controlPipe: SerialPipe,
    readonly nestedConsole: SerialPipe,
    readonly nestedAgent: SerialPipe,
    qemuOutput: Promise<string[]>,
  ) {
    this.gone = proc.exited.then(async (code) => {
      if (this.#abandonedBecause) return this.#abandonedBecause;
      const output = (await qemuOutput).join("").trim();
      const signal = proc.signalCode ? ` (${proc.signalCode})` : "";
      return `outer QEMU exited with ${code}${signal}${output ? `: ${output}` : ""}`;
    });
    // Said on a line of its own for scripts/check.ts, which runs a test file once more when the rig (not the VMM
    // under test) was lost during it. A rig that stop() ended is not lost.
    void this.gone.then((cause) => {
      if (rigsAlive.has(this)) globalThis.console.error(`e2e: rig lost: ${cause.split("\n")[0]}`);
    });
  }

  #abandonedBecause: string | undefined;

  /**
   * Kills an outer VM that is alive but no longer works (its control agent stopped answering: the emulated CPU
   * once delivered an interrupt to the outer kernel with interrupts disabled, and its serial driver deadlocked on
   * its own port lock). `gone` then resolves with `reason`, and the next test gets a new rig.
   */
  abandon(reason: string): void {
    this.#abandonedBecause ??= `the outer rig VM stopped working: ${reason}`;
    this.killNow();
  }

  /**
   * Starts an outer VM, a second time when the first does not come up (the same TCG flakes as in boot_retry.ts),
   * saying so on stderr as `who`.
   */
  static async startOnceMore(opts: RigOptions, who: string): Promise<Rig> {
    try {
      return await Rig.start(opts);
    } catch (error) {
      console.error(
        `${who}: the outer rig VM did not start; starting it once more: ${(error as Error).message}`,
      );
      return Rig.start(opts);
    }
  }

  static async start(opts: RigOptions): Promise<Rig> {
    await ensureGuestImages();
    const image = await ensureRigImage(opts.vmm, opts.vmmHostPath);
    const workDir = mkdtempSync(join(tmpdir(), "crosvm-e2e-rig-"));
    const scratchDir = join(workDir, "scratch");
    mkdirSync(scratchDir);
    const console = SerialPipe.create(join(workDir, "ttyS0"));
    const [controlPipe, nestedConsole, nestedAgent] = rigPorts.map((name) =>
      SerialPipe.create(join(workDir, name)),
    ) as [SerialPipe, SerialPipe, SerialPipe];
    const cmd = outerQemuCommand({
      image,
      append: `console=ttyS0 panic=-1 agent=virtio-ports/${rigPorts[0]} rig.ports=${rigPorts.length}`,
      serialBases: [console.base],
      virtioPorts: [controlPipe, nestedConsole, nestedAgent].map((pipe, i) => ({
        name: rigPorts[i]!,
        base: pipe.base,
      })),
      memMiB: opts.memMiB,
      cpus: opts.cpus,
      scratchDir,
    });
    const started = performance.now();
    const proc = Bun.spawn(diesWithParent(cmd), { stdin: "ignore", stdout: "pipe", stderr: "pipe" });
    const qemuOutput = Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
    const control = new AgentClient(
      "rig control",
      (line) => controlPipe.write(line),
      () => `outer console:\n${tail(console.text)}`,
    );
    controlPipe.onData((text) => control.feed(text));
    const rig = new Rig(
      opts.vmm,
      workDir,
      scratchDir,
      proc,
      console,
      control,
      controlPipe,
      nestedConsole,
      nestedAgent,
      qemuOutput,
    );
    rigsAlive.add(rig);
    void rig.gone.then((cause) => control.failAll(new Error(`${cause}\n${tail(console.text)}`)));
    try {
      await Promise.race([
        control.waitReady(opts.bootTimeoutMs ?? 120_000),
        rig.gone.then((cause) => {
          throw new Error(`${cause} before its agent was ready`);
        }),
      ]);
    } catch (error) {
      await rig.stop();
      const saved = saveFailureLogs("rig", { "rig-console": console.text });
      throw new Error(`${(error as Error).message}\nfull logs: ${saved}`);
    }
    rig.startMs = performance.now() - started;
    return rig;
  }

  get alive(): boolean {
    return (
      this.#abandonedBecause === undefined && this.proc.exitCode === null && this.proc.signalCode === null
    );
  }

  /** Kills the outer QEMU at once, without waiting (for process exit). */
  killNow(): void {
    this.proc.kill("SIGKILL");
  }

  /** Kills the outer VM (nothing in it needs saving) and removes its work folder. */
  async stop(): Promise<void> {
    rigsAlive.delete(this);
    this.proc.kill("SIGKILL");
    await Promise.race([this.proc.exited, Bun.sleep(5000)]);
    for (const pipe of [this.console, this.controlPipe, this.nestedConsole, this.nestedAgent]) pipe.close();
    rmSync(this.workDir, { recursive: true, force: true });
  }
}

// A test process that dies without its afterAll must not leave a TCG QEMU spinning on the shared cores.
const rigsAlive = new Set<Rig>();
process.on("exit", () => {
  for (const rig of rigsAlive) rig.killNow();
});
