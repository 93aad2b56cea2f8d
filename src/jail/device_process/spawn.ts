// Starts a device process: the same executable with the hidden subcommand (`crosvm device-process KIND SPEC`),
// handed only its descriptors, as extra stdio entries (the i-th becomes fd 3 + i in the child): its control and
// event sockets, the guest-memory memfd, its queues' ioeventfds, its vectors' irqfds and its backing files.
// With the sandbox on, util-linux unshare(1) launches it in new mount, network, IPC and PID namespaces (inside a
// user namespace when we are not root; ../sandbox_launcher.ts), or it is not started at all. The child confines
// itself and says Hello (awaited on the wait loop, src/base/wait_loop.ts); this side then holds a
// ProxyVirtioDevice and watches the process: a death before `stop()`, or a request that misses its reply
// deadline, is reported through `onDeviceDied` with the device, its pid and the cause. In single process mode
// (`inProcess`, --disable-sandbox) the same serve loop runs in a Worker of this process instead
// (device_runner.ts).
import { activeTrace, TRACE_SLICE_MS, TRACE_TID } from "../../base/trace_events.ts";
import { readdirSync } from "node:fs";
import { basename } from "node:path";
import {
  AF_UNIX,
  F_GETFD,
  FD_CLOEXEC,
  MSG_DONTWAIT,
  SOCK_CLOEXEC,
  SOCK_SEQPACKET,
  close,
  fcntl,
  recv,
  socketpair,
} from "../../../ffi/libc.ts";
import { logger, logLevelSpecText } from "../../base/log.ts";
import { WaitLoop } from "../../base/wait_loop.ts";
import { checkPivotRoot, defaultPivotRoot, deviceNamespaceLauncher } from "../sandbox_launcher.ts";
import type { GuestMemory } from "../../vm_memory/guest_memory.ts";
import { deathMessage } from "./death.ts";
import { type DeviceRunner, ProcessRunner, WorkerRunner } from "./device_runner.ts";
import { DEVICE_PROCESS_SUBCOMMAND, type DeviceLaunchSpec } from "./launch_spec.ts";
import { decodeHello, type Hello, MAX_MESSAGE } from "./protocol.ts";
import { ProxyVirtioDevice } from "./proxy_device.ts";
import { QueueTraceTracks } from "./queue_trace_tracks.ts";

const log = logger("jail::device_process");

/**
 * The command that runs `device-process` in this executable: the compiled binary itself, or bun and the script this
 * process was started with (src/main.ts, or a test entry point that adds test-only device kinds before loading it).
 */
export function deviceProcessCommand(): string[] {
  const exe = process.execPath;
  if (/^bun(\.exe)?$/.test(basename(exe))) return [exe, Bun.main, DEVICE_PROCESS_SUBCOMMAND];
  return [exe, DEVICE_PROCESS_SUBCOMMAND];
}

export interface SandboxOptions {
  /** Empty directory to pivot into (--pivot-root); defaultPivotRoot() when undefined. */
  readonly pivotRoot?: string;
  /** --seccomp-log-failures: the policy's log variant. */
  readonly logFailures?: boolean;
}

export interface DeviceProcessOptions {
  readonly kind: string;
  readonly options?: unknown;
  /** Guest memory backed by a memfd (GuestMemory.memfd >= 0). */
  readonly memory: GuestMemory;
  /** One eventfd per queue (KVM_IOEVENTFD on its notify address), queue i at index i. */
  readonly queueEvents: readonly number[];
  /** One eventfd per MSI-X vector (KVM_IRQFD on the vector's MSI route), vector v at index v. */
  readonly irqfds: readonly number[];
  readonly backing?: readonly number[];
  /** Where the VMM mapped the device's guest mapping (its kind's PreparedDevice.guestMapping). */
  readonly mapping?: { readonly start: number; readonly size: number };
  /** undefined: a device process without confinement (tests); --disable-sandbox uses `inProcess` instead. */
  readonly sandbox?: SandboxOptions;
  /** Defaults to deviceProcessCommand(); tests pass an entry file. */
  readonly command?: readonly string[];
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Called once if the process ends before stop(): "device virtio-blk (pid 1234) died: killed by SIGSYS (...)". */
  readonly onDeviceDied?: (message: string) => void;
  readonly helloTimeoutMs?: number;
  /** Reply deadline of the proxy's requests (proxy_device.ts REPLY_DEADLINE_MS by default). */
  readonly replyDeadlineMs?: number;
  /**
   * Single process mode (--disable-sandbox): the device's serve loop runs in a Worker of this process over the
   * same descriptors; no process is started, `sandbox` and `command` are ignored.
   */
  readonly inProcess?: boolean;
}

/** Descriptors this process has open without CLOEXEC: a child inherits them under the same numbers. */
export function leakableFds(): number[] {
  const out: number[] = [];
  for (const name of readdirSync("/proc/self/fd")) {
    const fd = Number(name);
    if (!Number.isInteger(fd) || fd <= 2) continue;
    try {
      if ((fcntl(fd, F_GETFD, 0) & FD_CLOEXEC) === 0) out.push(fd);
    } catch {}
  }
  return out;
}

/**
 * A running device model: a device process, or a device Worker in single process mode (`runner.mode`). A death
 * before `stop()`, or a request that misses its reply deadline (proxy_device.ts), is reported once through
 * `onDeviceDied`; an unresponsive device is killed at once.
 */
export class DeviceProcess {
  #stopping = false;
  #reported = false;
  #exitCause: Promise<string> | undefined;

  constructor(
    readonly device: ProxyVirtioDevice,
    readonly runner: DeviceRunner,
    onDeviceDied: ((message: string) => void) | undefined,
  ) {
    const report = (message: string) => {
      if (this.#stopping || this.#reported) return;
      this.#reported = true;
      log.debug(message);
      onDeviceDied?.(message);
    };
    device.onUnresponsive = (message) => {
      report(message);
      runner.kill();
    };
    void runner.exited.then(async () => {
      if (this.#stopping || this.#reported) return;
      report(deathMessage(device.debugLabel, device.pid, await this.exitCause()));
    });
  }

  get pid(): number {
    return this.device.pid;
  }

  /** The subprocess, or undefined in single process mode. */
  get proc(): Bun.Subprocess | undefined {
    return this.runner instanceof ProcessRunner ? this.runner.proc : undefined;
  }

  /** Why the process ended (waits for it): "killed by SIGSYS (seccomp: syscall 83 mkdir)". */
  exitCause(): Promise<string> {
    this.#exitCause ??= this.runner.exitCause(this.device.pid);
    return this.#exitCause;
  }

  /**
   * Asks the device to exit, waits for it (killing it after `graceMs`, or at once when it stopped answering) and
   * closes the sockets. Idempotent.
   */
  async stop(graceMs = 2000): Promise<void> {
    if (this.#stopping) return;
    this.#stopping = true;
    if (this.device.unresponsive) this.runner.kill();
    try {
      if (this.runner.running) this.device.shutdown();
    } catch (e) {
      log.debug(`${this.device.debugLabel}: shutdown: ${(e as Error).message}`);
      this.runner.kill();
    }
    const timer = setTimeout(() => this.runner.kill(), graceMs);
    await this.runner.exited;
    clearTimeout(timer);
    // --trace-file: the device sent its last queue slices before its Shutdown reply.
    this.device.drainAfterExit();
    close(this.device.controlFd);
    close(this.device.eventFd);
  }
}

/** A sandbox checked and ready to launch: its pivot root and its unshare(1) prefix (sandbox_launcher.ts). */
type Jail =
  | (SandboxOptions & {
      readonly pivotRoot: string;
      readonly launcher: ReturnType<typeof deviceNamespaceLauncher>;
    })
  | undefined;

/** The pivot root a sandboxed device process will use; throws SandboxError when it is not a directory. */
function pivotRootOf(sandbox: SandboxOptions): string {
  const dir = sandbox.pivotRoot ?? defaultPivotRoot();
  checkPivotRoot(dir);
  return dir;
}

/** The launch spec, with fd numbers as the child (or, in single process mode, this process) sees them. */
function launchSpec(o: DeviceProcessOptions, passed: readonly number[], jail: Jail): DeviceLaunchSpec {
  const backing = o.backing ?? [];
  let next = 3;
  const take = (n: number) =>
    o.inProcess ? passed.slice(next - 3, (next += n) - 3) : Array.from({ length: n }, () => next++);
  const fds = {
    control: take(1)[0]!,
    events: take(1)[0]!,
    memfd: take(1)[0]!,
    queueEvents: take(o.queueEvents.length),
    irqfds: take(o.irqfds.length),
    backing: take(backing.length),
  };
  const sandbox: DeviceLaunchSpec["sandbox"] = jail && {
    namespaces: jail.launcher.namespaces,
    pivotRoot: jail.pivotRoot,
    logFailures: jail.logFailures ?? false,
    leakedFds: leakableFds().filter((fd) => fd >= next),
  };
  return {
    options: o.options,
    memory: o.memory.regions.map((r) => ({ guestAddr: r.guestAddr, size: r.size, fdOffset: r.fdOffset })),
    fds,
    sandbox,
    logLevel: logLevelSpecText(),
    // --trace-file: the device times its queues' requests (src/devices/virtio/queue_trace.ts).
    ...(activeTrace() ? { traceSliceMs: TRACE_SLICE_MS } : {}),
    ...(o.mapping ? { mapping: { start: o.mapping.start, size: o.mapping.size } } : {}),
  };
}

/** Starts the device's runner: a (confined) device process, or a Worker in single process mode. */
function startRunner(
  o: DeviceProcessOptions,
  spec: DeviceLaunchSpec,
  passed: readonly number[],
  childEnds: readonly number[],
  jail: Jail,
): DeviceRunner {
  if (o.inProcess) return new WorkerRunner(o.kind, JSON.stringify(spec), childEnds);
  const prefix = jail ? jail.launcher.prefix : [];
  const cmd = [...prefix, ...(o.command ?? deviceProcessCommand()), o.kind, JSON.stringify(spec)];
  try {
    const proc = Bun.spawn(cmd, {
      stdio: ["ignore", "inherit", "inherit", ...passed],
      // Its own session: a Ctrl-C on the terminal reaches the VMM, which then stops its devices in order, instead
      // of killing the devices under it. A VMM that dies anyway leaves them EOF on their sockets: they exit.
      detached: true,
      env: { ...process.env, ...o.env },
    });
    return new ProcessRunner(proc);
  } finally {
    for (const fd of childEnds) close(fd);
  }
}

/** Starts the device model and resolves once it is confined (when sandboxed) and has said Hello. */
export async function startDeviceProcess(o: DeviceProcessOptions): Promise<DeviceProcess> {
  if (o.memory.memfd < 0) throw new Error(`device ${o.kind}: guest memory has no memfd to share`);
  // A sandbox that cannot be set up as asked is refused here, before anything is created or started.
  const jail: Jail =
    o.sandbox && !o.inProcess
      ? { ...o.sandbox, pivotRoot: pivotRootOf(o.sandbox), launcher: deviceNamespaceLauncher() }
      : undefined;
  const [control, childControl] = socketpair(
    AF_UNIX,
    SOCK_SEQPACKET | SOCK_CLOEXEC,
    0,
    `${o.kind} control socket`,
  );
  const [events, childEvents] = socketpair(
    AF_UNIX,
    SOCK_SEQPACKET | SOCK_CLOEXEC,
    0,
    `${o.kind} event socket`,
  );
  const passed = [
    childControl,
    childEvents,
    o.memory.memfd,
    ...o.queueEvents,
    ...o.irqfds,
    ...(o.backing ?? []),
  ];
  const spec = launchSpec(o, passed, jail);
  const startedUs = performance.now() * 1000;
  const runner = startRunner(o, spec, passed, [childControl, childEvents], jail);
  try {
    const hello = await waitForHello(control, runner, o.kind, o.helloTimeoutMs ?? 30_000);
    const device = ProxyVirtioDevice.fromHello(hello, control, events, o.replyDeadlineMs);
    traceDeviceLife(device, runner, startedUs);
    return new DeviceProcess(device, runner, o.onDeviceDied);
  } catch (e) {
    runner.kill();
    close(control);
    close(events);
    throw e;
  }
}

let tracedDevices = 0;

/**
 * --trace-file: the device's start (spawn to Hello) as a span on a track of its own, its exit as an instant, and
 * its queue slices on a track per queue (queue_trace_tracks.ts).
 */
function traceDeviceLife(device: ProxyVirtioDevice, runner: DeviceRunner, startedUs: number): void {
  const trace = activeTrace();
  if (!trace) return;
  const index = tracedDevices++;
  const tid = TRACE_TID.device(index);
  const args = { pid: device.pid, mode: runner.mode };
  trace.threadName(tid, `${device.debugLabel} (pid ${device.pid})`);
  const tracks = new QueueTraceTracks(
    trace,
    index,
    device.debugLabel,
    device.queueMaxSizes.length,
    TRACE_SLICE_MS,
  );
  device.onQueueTrace = (msg) => tracks.accept(msg);
  trace.span(
    "device",
    `start ${device.debugLabel}`,
    startedUs,
    performance.now() * 1000 - startedUs,
    tid,
    args,
  );
  void runner.exited.then(() => trace.instant("device", `${device.debugLabel} exited`, tid, args));
}

/**
 * Waits on the wait loop (no polling) for the Hello on `control`, for the runner to end, or for the timeout,
 * whichever comes first.
 */
async function waitForHello(control: number, runner: DeviceRunner, kind: string, timeoutMs: number) {
  const buf = new Uint8Array(MAX_MESSAGE);
  const hello = Promise.withResolvers<Hello>();
  const watch = WaitLoop.shared().watch(control, `${kind} control socket`, () => {
    const n = recv(control, buf, MSG_DONTWAIT, `${kind} control socket`);
    if (n) {
      try {
        hello.resolve(decodeHello(buf.subarray(0, n)));
      } catch (e) {
        hello.reject(e);
      }
    }
    // Hello or EOF: nothing more to wait for on the socket (an EOF means the runner is ending).
    if (n !== null) watch.pause();
  });
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timedOut = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`device ${kind}: not ready after ${timeoutMs} ms`)), timeoutMs);
  });
  const ended = runner.exited.then(async (): Promise<never> => {
    const pid = runner instanceof ProcessRunner ? runner.proc.pid : process.pid;
    const cause = await runner.exitCause(pid);
    throw new Error(deathMessage(kind, pid, `${cause} before it was ready`));
  });
  try {
    return await Promise.race([hello.promise, ended, timedOut]);
  } finally {
    watch.cancel();
    clearTimeout(timer);
  }
}
