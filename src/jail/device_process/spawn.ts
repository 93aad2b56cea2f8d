// Starts a device process: the same executable with the hidden subcommand (`crosvm device-process KIND SPEC`),
// handed only its descriptors, as extra stdio entries (the i-th becomes fd 3 + i in the child): its control and
// event sockets, the guest-memory memfd, its queues' ioeventfds, its vectors' irqfds and its backing files.
// With the sandbox on, util-linux unshare(1) launches it in new mount, network, IPC and PID namespaces (inside a
// user namespace when we are not root; ../sandbox_launcher.ts), or it is not started at all. The child confines
// itself and says Hello; this side then holds a ProxyVirtioDevice and watches the process: a death before
// `stop()` is reported through `onDeviceDied` with the device, its pid and the cause.
import { readdirSync } from "node:fs";
import { basename } from "node:path";
import {
  AF_UNIX,
  F_GETFD,
  FD_CLOEXEC,
  POLLIN,
  SOCK_CLOEXEC,
  SOCK_SEQPACKET,
  close,
  fcntl,
  poll,
  recv,
  socketpair,
} from "../../../ffi/libc.ts";
import { logger, logLevelSpecText } from "../../base/log.ts";
import { checkPivotRoot, defaultPivotRoot, deviceNamespaceLauncher } from "../sandbox_launcher.ts";
import type { GuestMemory } from "../../vm_memory/guest_memory.ts";
import { deathMessage, describeExit } from "./death.ts";
import { DEVICE_PROCESS_SUBCOMMAND, type DeviceLaunchSpec } from "./launch_spec.ts";
import { decodeHello, MAX_MESSAGE } from "./protocol.ts";
import { ProxyVirtioDevice } from "./proxy_device.ts";

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
  /** undefined: no confinement at all (tests); --disable-sandbox runs devices in-process instead. */
  readonly sandbox?: SandboxOptions;
  /** Defaults to deviceProcessCommand(); tests pass an entry file. */
  readonly command?: readonly string[];
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Called once if the process ends before stop(): "device virtio-blk (pid 1234) died: killed by SIGSYS (...)". */
  readonly onDeviceDied?: (message: string) => void;
  readonly helloTimeoutMs?: number;
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

export class DeviceProcess {
  #stopping = false;
  #exitCause: Promise<string> | undefined;

  constructor(
    readonly device: ProxyVirtioDevice,
    readonly proc: Bun.Subprocess,
    onDeviceDied: ((message: string) => void) | undefined,
  ) {
    void proc.exited.then(async () => {
      if (this.#stopping) return;
      const message = deathMessage(device.debugLabel, device.pid, await this.exitCause());
      log.debug(message);
      onDeviceDied?.(message);
    });
  }

  get pid(): number {
    return this.device.pid;
  }

  /** Why the process ended (waits for it): "killed by SIGSYS (seccomp: syscall 83 mkdir)". */
  exitCause(): Promise<string> {
    this.#exitCause ??= this.proc.exited.then(() =>
      describeExit(this.device.pid, { exitCode: this.proc.exitCode, signalCode: this.proc.signalCode }),
    );
    return this.#exitCause;
  }

  /**
   * Asks the device process to exit, waits for it (SIGKILL after `graceMs`) and closes the sockets. Idempotent.
   */
  async stop(graceMs = 2000): Promise<void> {
    if (this.#stopping) return;
    this.#stopping = true;
    try {
      if (this.proc.exitCode === null && this.proc.signalCode === null) this.device.shutdown();
    } catch (e) {
      log.debug(`${this.device.debugLabel}: shutdown: ${(e as Error).message}`);
    }
    const timer = setTimeout(() => this.proc.kill("SIGKILL"), graceMs);
    await this.proc.exited;
    clearTimeout(timer);
    close(this.device.controlFd);
    close(this.device.eventFd);
  }
}

/** The pivot root a sandboxed device process will use; throws SandboxError when it is not a directory. */
function pivotRootOf(sandbox: SandboxOptions): string {
  const dir = sandbox.pivotRoot ?? defaultPivotRoot();
  checkPivotRoot(dir);
  return dir;
}

/** Spawns the device process and resolves once it is confined and has said Hello. */
export async function startDeviceProcess(o: DeviceProcessOptions): Promise<DeviceProcess> {
  if (o.memory.memfd < 0) throw new Error(`device ${o.kind}: guest memory has no memfd to share`);
  // A sandbox that cannot be set up as asked is refused here, before anything is created or started.
  const jail = o.sandbox && {
    ...o.sandbox,
    pivotRoot: pivotRootOf(o.sandbox),
    launcher: deviceNamespaceLauncher(),
  };
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
  const backing = o.backing ?? [];
  const passed = [childControl, childEvents, o.memory.memfd, ...o.queueEvents, ...o.irqfds, ...backing];
  let next = 3;
  const take = (n: number) => Array.from({ length: n }, () => next++);
  const fds = {
    control: take(1)[0]!,
    events: take(1)[0]!,
    memfd: take(1)[0]!,
    queueEvents: take(o.queueEvents.length),
    irqfds: take(o.irqfds.length),
    backing: take(backing.length),
  };
  const prefix = jail ? jail.launcher.prefix : [];
  const sandbox: DeviceLaunchSpec["sandbox"] = jail && {
    namespaces: jail.launcher.namespaces,
    pivotRoot: jail.pivotRoot,
    logFailures: jail.logFailures ?? false,
    leakedFds: leakableFds().filter((fd) => fd >= next),
  };
  const spec: DeviceLaunchSpec = {
    options: o.options,
    memory: o.memory.regions.map((r) => ({ guestAddr: r.guestAddr, size: r.size, fdOffset: r.fdOffset })),
    fds,
    sandbox,
    logLevel: logLevelSpecText(),
  };
  const cmd = [...prefix, ...(o.command ?? deviceProcessCommand()), o.kind, JSON.stringify(spec)];
  let proc: Bun.Subprocess;
  try {
    proc = Bun.spawn(cmd, {
      stdio: ["ignore", "inherit", "inherit", ...passed],
      // Its own session: a Ctrl-C on the terminal reaches the VMM, which then stops its devices in order, instead
      // of killing the devices under it. A VMM that dies anyway leaves them EOF on their sockets: they exit.
      detached: true,
      env: { ...process.env, ...o.env },
    });
  } finally {
    close(childControl);
    close(childEvents);
  }
  try {
    const hello = await waitForHello(control, proc, o.kind, o.helloTimeoutMs ?? 30_000);
    return new DeviceProcess(ProxyVirtioDevice.fromHello(hello, control, events), proc, o.onDeviceDied);
  } catch (e) {
    proc.kill("SIGKILL");
    close(control);
    close(events);
    throw e;
  }
}

async function waitForHello(control: number, proc: Bun.Subprocess, kind: string, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  const buf = new Uint8Array(MAX_MESSAGE);
  for (;;) {
    if (poll([{ fd: control, events: POLLIN }], 0)[0]! & POLLIN) {
      const n = recv(control, buf, 0, `${kind} control socket`);
      if (n) return decodeHello(buf.subarray(0, n));
    }
    if (proc.exitCode !== null || proc.signalCode !== null) {
      const cause = await describeExit(proc.pid, { exitCode: proc.exitCode, signalCode: proc.signalCode });
      throw new Error(deathMessage(kind, proc.pid, `${cause} before it was ready`));
    }
    if (Date.now() > deadline)
      throw new Error(`device ${kind} (pid ${proc.pid}): not ready after ${timeoutMs} ms`);
    await Bun.sleep(2);
  }
}
