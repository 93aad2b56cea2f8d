// TestVm: boots a Linux guest with the VMM under test and talks to its agent. Where the host has hardware
// virtualization the VMM runs directly; elsewhere inside the nested rig (rig.ts). CROSVM_E2E_MODE=direct|rig
// overrides the choice. One rig serves every VM of a `bun test` run, one VM at a time: a test file calls
// `afterAll(endTestFile)`, which empties the scratch folder and the outer VM's /tmp and keeps the rig for the next
// file (it dies with the test process); a script that is not a test run calls `shutdownRigs()` at its end.
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ensureGuestImages } from "../../../scripts/guest/build.ts";
import { flavourPaths, repoRoot, type KernelFlavour } from "../../../scripts/guest/paths.ts";
import { rigLayout } from "../../../scripts/guest/rig/outer_image.ts";
import { AgentClient, type ExecOptions, type ExecResult } from "./agent_client.ts";
import {
  type BootFailure,
  describeFailure,
  midTestRigHang,
  midTestRigLoss,
  retryReason,
} from "./boot_retry.ts";
import { saveFailureLogs } from "./failure_logs.ts";
import { diesWithParent } from "./orphan_guard.ts";
import { hostHasHardwareVirtualization, Rig, rigNestedPorts } from "./rig.ts";
import { nestedLaunchScript } from "./rig_launcher.ts";
import { kvmTraceScript, processReportScript, reportSummary } from "./process_report.ts";
import { SerialPipe } from "./serial_pipe.ts";
import { HarnessTimeout, tail, withTimeout } from "./timeout.ts";
import { guestCmdline, vmmCommand, type VmmKind, type VmmLaunch } from "./vmm_command.ts";

export type E2eMode = "direct" | "rig";

export interface BootOptions {
  /** The VMM under test. Default "crosvm" (dist/crosvm, or CROSVM_E2E_BINARY). */
  vmm?: VmmKind;
  /** Extra VMM arguments (devices, ...); the harness adds kernel, initramfs, memory, vCPUs and serial ports. */
  vmmArgs?: string[];
  /** crosvm options before `run`, such as --extended-status. */
  vmmGlobalArgs?: string[];
  kernel?: KernelFlavour;
  /** Guest memory in MiB. Default 256. */
  mem?: number;
  /** Guest vCPUs. Default 1. */
  cpus?: number;
  /** Extra kernel parameters ("quiet" saves several seconds of serial output in the rig). */
  cmdline?: string;
  /** How long one boot attempt may take to the agent's ready line. Default 60 s direct, 120 s in the rig. */
  bootTimeoutMs?: number;
  /**
   * Runs before each boot attempt (numbered from 1): what the VMM needs where it runs (disk images in the outer
   * VM), made again when a retry runs on a new rig (a replaced rig takes its scratch folder and its /tmp with it),
   * and on any retry for what the failed attempt used up (a socket that accepts one connection).
   */
  beforeAttempt?: (attempt: number) => Promise<void>;
  /**
   * A kernel and initrd of the test's own, as paths where the VMM runs (e.g. a VmmHost's vmmPath), instead of
   * the flavour's (a distribution's system image boots with its own kernel and initrd).
   */
  bootFiles?: { kernel: string; initrd: string };
}

export function e2eMode(): E2eMode {
  const forced = process.env.CROSVM_E2E_MODE;
  if (forced === "direct" || forced === "rig") return forced;
  if (forced) throw new Error(`CROSVM_E2E_MODE=${forced}: expected direct or rig`);
  return hostHasHardwareVirtualization() ? "direct" : "rig";
}

function hostVmmPath(kind: VmmKind): string {
  const path =
    kind === "qemu"
      ? (Bun.which("qemu-system-x86_64") ?? "/usr/bin/qemu-system-x86_64")
      : (process.env.CROSVM_E2E_BINARY ?? join(repoRoot, "dist/crosvm"));
  if (!existsSync(path)) {
    const hint = kind === "qemu" ? "install qemu-system-x86" : "run `bun run build` or set CROSVM_E2E_BINARY";
    throw new Error(`VMM executable ${path} not found: ${hint}`);
  }
  return path;
}

type LaunchPlan = Omit<VmmLaunch, "console" | "agent" | "executable"> & {
  flavour: KernelFlavour;
  /** Kernel and initrd as the VMM sees them, when not the flavour's (BootOptions.bootFiles). */
  bootFiles?: { kernel: string; initrd: string };
};

/** A started VMM, however it runs. */
interface RunningVmm {
  readonly exited: Promise<number>;
  readonly console: SerialPipe;
  readonly agent: AgentClient;
  /** The VMM's own stdout and stderr. */
  log(): Promise<string>;
  /** Logs of whatever hosts the VMM (the outer rig VM's console), for failure reports. */
  hostLogs(): Record<string, string>;
  /** What the VMM's processes and threads are doing now (process_report.ts), for a hang's failure report. */
  processReport(): Promise<string>;
  /**
   * Whether what hosts the VMM still answers a command (the outer rig VM's control agent; always in direct mode).
   * A rig that does not is abandoned (Rig.abandon).
   */
  hostAnswers(): Promise<boolean>;
  /** Resolves, saying how, if what hosts the VMM (the outer rig VM) goes away; never in direct mode. */
  readonly hostGone: Promise<string>;
  /** performance.now() when the VMM was started. */
  readonly launchedAt: number;
  /** Milliseconds the rig took to start (rig mode). */
  readonly rigStartMs?: number;
  kill(): Promise<void>;
  release(): void;
}

// ---- direct mode: the VMM is a host process; its serial ports are host FIFOs.

async function startDirect(plan: LaunchPlan): Promise<RunningVmm> {
  await ensureGuestImages();
  const workDir = mkdtempSync(join(tmpdir(), "crosvm-e2e-vm-"));
  const console = SerialPipe.create(join(workDir, "console"));
  const agentPipe = SerialPipe.create(join(workDir, "agent"));
  const agent = new AgentClient(
    "guest",
    (line) => agentPipe.write(line),
    () => `console:\n${tail(console.text)}`,
  );
  agentPipe.onData((text) => agent.feed(text));
  const cmd = vmmCommand({
    ...plan,
    executable: hostVmmPath(plan.kind),
    console: { kind: "fifo", base: console.base },
    agent: { kind: "fifo", base: agentPipe.base },
  });
  const launchedAt = performance.now();
  const proc = Bun.spawn(diesWithParent(cmd), { stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  const output = Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text()]).then(
    ([out, err]) => out + err,
  );
  return {
    exited: proc.exited,
    console,
    agent,
    launchedAt,
    log: () => withTimeout(output, 5000, () => "VMM output still open").catch((e) => String(e)),
    hostLogs: () => ({}),
    processReport: async () => {
      const report = await execWhereVmmRuns(processReportScript(cmd[0]!), { timeoutMs: 10_000 });
      return report.stdout + report.stderr;
    },
    hostAnswers: async () => true,
    hostGone: new Promise<string>(() => {}),
    async kill() {
      proc.kill("SIGKILL");
      await withTimeout(proc.exited, 5000, () => `VMM ${proc.pid} did not die after SIGKILL`);
    },
    release() {
      console.close();
      agentPipe.close();
      rmSync(workDir, { recursive: true, force: true });
    },
  };
}

// ---- rig mode: the VMM runs inside the outer VM, started by its control agent.

const rigs = new Map<VmmKind, Promise<Rig>>();

async function sharedRig(kind: VmmKind): Promise<Rig> {
  for (const [other, rig] of rigs) {
    if (other !== kind) {
      rigs.delete(other);
      await (await rig).stop();
    }
  }
  const current = rigs.get(kind);
  if (current) {
    const rig = await current.catch(() => undefined);
    if (rig?.alive) return rig;
    // A rig that went away (see boot_retry.ts) is replaced by a new one.
    rigs.delete(kind);
    await rig?.stop();
  }
  const started = startRig(kind);
  rigs.set(kind, started);
  started.catch(() => rigs.delete(kind));
  return started;
}

function startRig(kind: VmmKind): Promise<Rig> {
  return Rig.startOnceMore({ vmm: kind, vmmHostPath: hostVmmPath(kind) }, "e2e");
}

/**
 * Ends a test file: the next file starts from an empty scratch folder and an empty /tmp in the outer VM, on the
 * same rig (a rig start is ~20 s of TCG boot, and one more chance of a lost boot). A rig that is gone, does not
 * answer, or still runs a VM someone did not stop is shut down instead, so the next file starts a new one.
 */
export async function endTestFile(): Promise<void> {
  if (directScratch) rmSync(directScratch, { recursive: true, force: true });
  directScratch = undefined;
  if (e2eMode() !== "rig") return;
  const rig =
    rigVmOwner === undefined && rigs.size === 1
      ? await [...rigs.values()][0]!.catch(() => undefined)
      : undefined;
  const cleaned =
    rig?.alive === true &&
    (await rig.control
      .exec("rm -rf /tmp/* /run/nested /run/vmm.* /run/bridge.log", { timeoutMs: 20_000 })
      .then(
        (r) => r.exitCode === 0,
        () => false,
      ));
  if (!rig || !cleaned) return shutdownRigs();
  for (const name of readdirSync(rig.scratchDir))
    rmSync(join(rig.scratchDir, name), { recursive: true, force: true });
}

/** Stops every rig now (the end of a script that is not a test run, or a rig not worth keeping). */
export async function shutdownRigs(): Promise<void> {
  const all = [...rigs.values()];
  rigs.clear();
  rigVmOwner = undefined;
  if (directScratch) rmSync(directScratch, { recursive: true, force: true });
  directScratch = undefined;
  await Promise.all(all.map(async (rig) => (await rig.catch(() => undefined))?.stop()));
}

let directScratch: string | undefined;

/**
 * A folder for files the VMM under test reads or writes (disk images, sockets): `hostDir` is where the test
 * writes them, `vmmDir` the same folder as the VMM sees it (/scratch in the rig, over 9p).
 */
export async function scratchDir(kind: VmmKind): Promise<{ hostDir: string; vmmDir: string }> {
  if (e2eMode() === "rig") {
    const rig = await sharedRig(kind);
    return { hostDir: rig.scratchDir, vmmDir: "/scratch" };
  }
  directScratch ??= mkdtempSync(join(tmpdir(), "crosvm-e2e-scratch-"));
  return { hostDir: directScratch, vmmDir: directScratch };
}

/** The outer rig VM stopped answering while a VMM was being started in it; it has been abandoned. */
class RigGone extends Error {
  override name = "RigGone";
}

/** The rig has one pair of nested serial ports, so it runs one nested VM at a time: this one's token. */
let rigVmOwner: object | undefined;

async function startInRig(plan: LaunchPlan): Promise<RunningVmm> {
  if (rigVmOwner) throw new Error("the rig runs one VM at a time: stop() the previous TestVm first");
  const token = {};
  rigVmOwner = token;
  const free = () => {
    if (rigVmOwner === token) rigVmOwner = undefined;
  };
  try {
    const vmm = await launchInRig(plan, free);
    void vmm.exited.then(free);
    return vmm;
  } catch (error) {
    free();
    throw error;
  }
}

async function launchInRig(plan: LaunchPlan, free: () => void): Promise<RunningVmm> {
  const rig = await sharedRig(plan.kind);
  /** A control command the outer VM must answer; when it does not, the rig is abandoned (Rig.abandon). */
  const control = (script: string, timeoutMs: number) =>
    rig.control.exec(script, { timeoutMs }).catch((error: unknown) => {
      const firstLine = (error as Error).message.split("\n")[0]!;
      rig.abandon(firstLine);
      throw new RigGone(`rig: ${firstLine}`);
    });
  // Whatever an earlier guest left unread on the way in (port-bridge starts each VMM with empty FIFOs).
  rig.nestedAgent.discardUnsent();
  rig.nestedConsole.discardUnsent();
  rig.nestedConsole.clear();
  const agent = new AgentClient(
    "nested guest",
    (line) => rig.nestedAgent.write(line),
    () => `nested console:\n${tail(rig.nestedConsole.text)}`,
  );
  const unsubscribe = rig.nestedAgent.onData((text) => agent.feed(text));
  let resolveExit: (status: number) => void = () => {};
  const exited = new Promise<number>((resolve) => (resolveExit = resolve));
  const onEvent = (event: Record<string, unknown>) => {
    if (typeof event.vmmExit === "number") resolveExit(event.vmmExit);
  };
  rig.control.onEvent = onEvent;
  const argv = vmmCommand({
    ...plan,
    executable: rigLayout.vmmPath(plan.kind),
    kernel: plan.bootFiles?.kernel ?? rigLayout.bzImage(plan.flavour),
    initrd: plan.bootFiles?.initrd ?? rigLayout.initrd(plan.flavour),
    console: { kind: "fifo", base: rigNestedPorts.console.base },
    agent: { kind: "fifo", base: rigNestedPorts.agent.base },
  });
  const launchedAt = performance.now();
  const started = await control(nestedLaunchScript(argv), 10_000);
  if (started.exitCode !== 0) throw new Error(`rig: starting the nested VMM failed: ${started.stderr}`);
  return {
    exited,
    console: rig.nestedConsole,
    agent,
    launchedAt,
    rigStartMs: rig.startMs,
    hostLogs: () => ({ "rig-console": rig.console.text }),
    async processReport() {
      if (!rig.alive) return "(rig is gone)";
      const run = (script: string) =>
        rig.control.exec(script, { timeoutMs: 10_000 }).then(
          (r) => r.stdout + r.stderr,
          (e: unknown) => String(e),
        );
      return `${await run(processReportScript(argv[0]!))}\n== kvm_exit events in one second (count, vCPU thread, event)\n${await run(kvmTraceScript)}`;
    },
    async hostAnswers() {
      if (!rig.alive) return false;
      return control("true", 10_000).then(
        () => true,
        () => false,
      );
    },
    hostGone: rig.gone,
    async log() {
      if (!rig.alive) return "(rig is gone)";
      const result = await rig.control.exec("cat /run/vmm.log", { timeoutMs: 5000 }).catch((e) => String(e));
      return typeof result === "string" ? result : result.stdout + result.stderr;
    },
    async kill() {
      if (!rig.alive) return;
      await control("kill -9 $(cat /run/vmm.pid) 2> /dev/null; true", 10_000);
      await withTimeout(exited, 10_000, () => "nested VMM did not exit after SIGKILL").catch((error) => {
        rig.abandon((error as Error).message);
        throw error;
      });
    },
    release() {
      unsubscribe();
      if (rig.control.onEvent === onEvent) rig.control.onEvent = () => {};
      free();
    },
  };
}

/** Waits for the guest agent's ready line; says what went wrong instead, if anything did. */
async function waitForAgent(vmm: RunningVmm, timeoutMs: number): Promise<BootFailure | undefined> {
  const ready = vmm.agent.waitReady(timeoutMs).then(
    (): BootFailure | undefined => undefined,
    async (): Promise<BootFailure> => ({ kind: "hang", timeoutMs, hostAnswers: await vmm.hostAnswers() }),
  );
  const exited = vmm.exited.then((status): BootFailure => ({
    kind: "exited",
    status,
    consoleBytes: vmm.console.text.length,
  }));
  const gone = vmm.hostGone.then((cause): BootFailure => ({ kind: "host-gone", cause }));
  return Promise.race([ready, exited, gone]);
}

export class TestVm {
  #exitStatus: number | undefined;
  #released = false;

  private constructor(
    private readonly vmm: RunningVmm,
    readonly mode: E2eMode,
    /** Milliseconds from starting the VMM to the guest agent's ready line. */
    readonly bootMs: number,
  ) {
    void vmm.exited.then(async (status) => {
      this.#exitStatus = status;
      // The VMM's last lines say why it stopped (a guest reset, a signal, a vCPU error); without them an exit
      // in the middle of a test has no cause.
      // In the rig, the outer VM's own kernel lines show what its KVM saw (a nested triple fault, a lockup).
      const log = await vmm.log().catch((e: Error) => `(no VMM log: ${e.message})`);
      const outer = vmm.hostLogs()["rig-console"];
      const outerTail = outer === undefined ? "" : `\nrig console:\n${tail(outer, 5)}`;
      // scripts/check.ts reruns a file once after this line (the rig's doing, as a reset before a first console line).
      const lost = midTestRigLoss(mode, { status, vmmLog: log, console: this.console });
      if (lost) console.error(`e2e: rig lost: ${lost}`);
      vmm.agent.failAll(
        new Error(
          `the VMM exited with ${status}\nconsole:\n${tail(this.console)}\nVMM output:\n${tail(log, 10)}${outerTail}`,
        ),
      );
    });
  }

  /** Boots a guest and waits for its agent. */
  static async boot(opts: BootOptions = {}): Promise<TestVm> {
    const mode = e2eMode();
    const flavour = opts.kernel ?? "generic";
    const plan: LaunchPlan = {
      kind: opts.vmm ?? "crosvm",
      flavour,
      kernel: opts.bootFiles?.kernel ?? flavourPaths(flavour).bzImage,
      initrd: opts.bootFiles?.initrd ?? flavourPaths(flavour).initrd,
      bootFiles: opts.bootFiles,
      cmdline: guestCmdline(opts.cmdline),
      memMiB: opts.mem ?? 256,
      cpus: opts.cpus ?? 1,
      qemuAccel: process.env.CROSVM_E2E_QEMU_ACCEL === "tcg" ? "tcg" : "kvm",
      extraArgs: opts.vmmArgs ?? [],
      globalArgs: opts.vmmGlobalArgs ?? [],
    };
    const bootTimeoutMs = opts.bootTimeoutMs ?? (mode === "rig" ? 120_000 : 60_000);
    for (let attempt = 1; ; attempt++) {
      let vmm: RunningVmm;
      try {
        await opts.beforeAttempt?.(attempt);
        vmm = mode === "direct" ? await startDirect(plan) : await startInRig(plan);
      } catch (error) {
        const retry =
          error instanceof RigGone && retryReason(mode, { kind: "host-gone", cause: error.message }, attempt);
        if (!retry) throw error;
        console.error(`e2e: boot attempt ${attempt}: ${retry}; trying again`);
        continue;
      }
      const failure = await waitForAgent(vmm, bootTimeoutMs);
      if (!failure) return new TestVm(vmm, mode, performance.now() - vmm.launchedAt);
      const log = await vmm.log();
      const processes = failure.kind === "hang" ? await vmm.processReport() : "";
      const logs = { console: vmm.console.text, vmm: log, processes, ...vmm.hostLogs() };
      await vmm.kill().catch(() => {});
      vmm.release();
      const saved = saveFailureLogs("boot", logs);
      const evidence: BootFailure =
        failure.kind === "hang"
          ? { ...failure, report: processes }
          : failure.kind === "exited"
            ? { ...failure, vmmLog: log, console: vmm.console.text }
            : failure;
      const retry = retryReason(mode, evidence, attempt);
      if (retry) {
        console.error(`e2e: boot attempt ${attempt}: ${retry}; trying again (logs: ${saved})`);
        continue;
      }
      throw new Error(
        `${describeFailure(failure)}\nconsole:\n${tail(vmm.console.text)}\nVMM output:\n${tail(log, 10)}\nfull logs: ${saved}`,
      );
    }
  }

  /** Milliseconds the outer rig VM took from spawn to its control agent's ready line (rig mode). */
  get rigStartMs(): number | undefined {
    return this.vmm.rigStartMs;
  }

  /** Guest console output captured so far. */
  get console(): string {
    return this.vmm.console.text;
  }

  /** Runs a shell command in the guest (busybox sh). */
  exec(cmd: string, opts?: ExecOptions): Promise<ExecResult> {
    if (this.#exitStatus !== undefined)
      return Promise.reject(
        new Error(`guest: cannot run \`${cmd}\`: the VMM already exited with ${this.#exitStatus}`),
      );
    return this.vmm.agent.exec(cmd, opts).catch(async (error: unknown) => {
      if (!(error instanceof HarnessTimeout)) throw error;
      // Say where a guest that stopped answering was: what the VMM's threads do, and (in the rig) whether the
      // outer VM still answers, so that a wedged rig is told apart from a hung guest or device.
      const logs = {
        console: this.console,
        vmm: await this.vmm.log(),
        processes: await this.vmm.processReport(),
        ...this.vmm.hostLogs(),
      };
      this.#sayIfRigHung(logs.processes);
      throw new HarnessTimeout(
        `${error.message}\nwhere the VMM runs:\n${reportSummary(logs.processes)}\nfull logs: ${saveFailureLogs("exec", logs)}`,
      );
    });
  }

  /** Runs a shell command in the guest and returns its stdout; throws with its status and output if it fails. */
  async execChecked(cmd: string, opts?: ExecOptions): Promise<string> {
    const r = await this.exec(cmd, opts);
    if (r.exitCode !== 0)
      throw new Error(`guest: \`${cmd}\` exited with ${r.exitCode}: ${r.stdout}${r.stderr}`);
    return r.stdout;
  }

  /** Asks the guest to power off (`poweroff -f`); the agent cannot answer, so wait with waitForExit. */
  poweroff(): Promise<void> {
    return this.vmm.agent.sendNoReply("poweroff -f");
  }

  /** The VMM's exit status; kills the VMM and throws when it has not exited within the timeout. */
  async waitForExit(timeoutMs: number): Promise<number> {
    try {
      return await withTimeout(
        this.vmm.exited,
        timeoutMs,
        () => `the VMM did not exit within ${timeoutMs} ms\nconsole:\n${tail(this.console)}`,
      );
    } catch (error) {
      const processes = await this.vmm.processReport();
      const logs = { console: this.console, vmm: await this.vmm.log(), processes, ...this.vmm.hostLogs() };
      this.#sayIfRigHung(processes);
      await this.stop();
      throw new Error(
        `${(error as Error).message}\nwhere the VMM runs:\n${reportSummary(processes)}\nfull logs: ${saveFailureLogs("exit", logs)}`,
      );
    }
  }

  /** Says on stderr, as for a reset (midTestRigLoss), when the process report of a hung guest blames the rig. */
  #sayIfRigHung(report: string): void {
    const lost = midTestRigHang(this.mode, report);
    if (lost) console.error(`e2e: rig lost: ${lost}`);
  }

  /** The VMM's own stdout and stderr. */
  vmmLog(): Promise<string> {
    return this.vmm.log();
  }

  /**
   * Kills the VMM with SIGKILL now and waits for it to end (its ports stay until stop()). True when it was still
   * running, false when it had exited already.
   */
  async sigkill(): Promise<boolean> {
    if (this.#exitStatus !== undefined) return false;
    await this.vmm.kill();
    return true;
  }

  /** Kills the VMM if it still runs and frees its ports. Safe to call twice. */
  async stop(): Promise<void> {
    if (this.#released) return;
    this.#released = true;
    if (this.#exitStatus === undefined) await this.vmm.kill().catch(() => {});
    this.vmm.release();
  }
}

/**
 * Runs a shell command where the VMM under test runs: inside the outer rig VM through its control agent, or on the
 * host in direct mode. For what must share the VMM's machine: its control subcommands (`crosvm stop SOCKET`), files
 * it creates outside the scratch folder (the control socket).
 */
export async function execWhereVmmRuns(
  cmd: string,
  opts: ExecOptions & { vmm?: VmmKind } = {},
): Promise<ExecResult> {
  const kind = opts.vmm ?? "crosvm";
  if (e2eMode() === "rig") return (await sharedRig(kind)).control.exec(cmd, { timeoutMs: opts.timeoutMs });
  const proc = Bun.spawn(diesWithParent(["sh", "-c", cmd]), {
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const timer = setTimeout(() => proc.kill("SIGKILL"), timeoutMs);
  try {
    const [stdout, stderr, exitCode] = await Promise.all([
      new Response(proc.stdout).text(),
      new Response(proc.stderr).text(),
      proc.exited,
    ]);
    return { stdout, stderr, exitCode };
  } finally {
    clearTimeout(timer);
  }
}

/** The VMM executable's path where the VMM runs (in the outer rig VM, or on the host). */
export function vmmExecutablePath(kind: VmmKind = "crosvm"): string {
  return e2eMode() === "rig" ? rigLayout.vmmPath(kind) : hostVmmPath(kind);
}

/** The test guests' kernel and initramfs of `flavour` as the VMM's machine sees them (for a VMM a test starts). */
export function guestFilesWhereVmmRuns(flavour: KernelFlavour = "generic"): {
  kernel: string;
  initrd: string;
} {
  return e2eMode() === "rig"
    ? { kernel: rigLayout.bzImage(flavour), initrd: rigLayout.initrd(flavour) }
    : { kernel: flavourPaths(flavour).bzImage, initrd: flavourPaths(flavour).initrd };
}
