// The device process: `crosvm device-process KIND SPEC_JSON` (see spawn.ts), or in single process mode the same
// code in a Worker of the VMM (device_worker.ts). It maps guest memory from the memfd it was given, builds the
// device model, confines itself (../confine.ts; not in single process mode), says Hello, then serves the VMM's
// requests and its queues' ioeventfds in one poll(2) loop until Shutdown or until the VMM goes away. Queue work
// comes in batches of at most 64 chains (process_queue.ts), and the control socket is read first on every
// wakeup, so a request is answered within one batch however busy the guest keeps a queue. Queue
// processing happens here: KVM signals the queue's ioeventfd, the device pops chains from guest memory and writes
// the vector's irqfd. With --trace-file (a `traceSliceMs` in the spec) the queues time their requests
// (src/devices/virtio/queue_trace.ts) and the loop sends the finished slices on the event socket. Everything this
// process will call through bun:ffi is bound (dlopen) before the seccomp filter goes on, because binding maps
// executable memory, which the filter forbids.
import { readlinkSync } from "node:fs";
import {
  eventfdConsume,
  eventfdWrite,
  MSG_DONTWAIT,
  MSG_NOSIGNAL,
  POLLERR,
  POLLHUP,
  POLLIN,
  PollSet,
  recv,
  send,
} from "../../../ffi/libc.ts";
import { GuestLog } from "../../base/guest_log.ts";
import { logger, setLogLevelSpec } from "../../base/log.ts";
import { DeviceQueueTrace, epochMs } from "../../devices/virtio/queue_trace.ts";
import { Queue } from "../../devices/virtio/split_queue.ts";
import type { VirtioDevice } from "../../devices/virtio/virtio_device.ts";
import { GuestMemory } from "../../vm_memory/guest_memory.ts";
import { mapMemfdRegions } from "../../vm_memory/mapped_region.ts";
import { closeUnlistedFds, confine } from "../confine.ts";
import { embeddedPolicy } from "../seccomp/build_policies.ts";
import { ChildInterrupt } from "./child_interrupt.ts";
import { buildVirtioDevice, type PollSource } from "./device_kinds.ts";
import { type DeviceLaunchSpec, parseLaunchSpec } from "./launch_spec.ts";
import { executableStartupPages, releasePages } from "./startup_pages.ts";
import {
  decodeActivate,
  decodeConfigAccess,
  encodeHello,
  encodeQueueTrace,
  encodeText,
  MAX_MESSAGE,
  Op,
  QUEUE_SLICE_SIZE,
  QUEUE_TRACE_HEADER,
  readU16,
  readU64,
} from "./protocol.ts";

const log = logger("jail::device_process");

function mapGuestMemory(spec: DeviceLaunchSpec): GuestMemory {
  return new GuestMemory(mapMemfdRegions(spec.fds.memfd, spec.memory), spec.fds.memfd);
}

/** This process's pid in the initial PID namespace (what the VMM and the kernel's audit log see). */
function hostPid(): number {
  try {
    return Number(readlinkSync("/proc/self"));
  } catch {
    return process.pid;
  }
}

class DeviceServer {
  readonly #ok = Uint8Array.of(Op.ReplyOk);
  readonly #reply = new Uint8Array(MAX_MESSAGE);
  #active = false;
  #queues: ReadonlyMap<number, Queue> = new Map();
  /** Config accesses come from the guest: their warnings are rate-limited. */
  readonly #guestLog: GuestLog;

  /** --trace-file only: the queues' request slices (queue_trace.ts), sent on the event socket. */
  readonly queueTrace: DeviceQueueTrace | undefined;
  /** Wall clock of the last send of the queue trace. */
  #traceSentMs = 0;
  /** Slices the event socket refused (full), reported with the next send. */
  #traceUnsent = 0;

  constructor(
    readonly spec: DeviceLaunchSpec,
    readonly device: VirtioDevice,
    readonly mem: GuestMemory,
    readonly interrupt: ChildInterrupt,
  ) {
    this.#guestLog = new GuestLog(log, device.debugLabel);
    this.queueTrace = spec.traceSliceMs === undefined ? undefined : new DeviceQueueTrace(spec.traceSliceMs);
  }

  get active(): boolean {
    return this.#active;
  }

  #send(msg: Uint8Array): void {
    send(this.spec.fds.control, msg, MSG_NOSIGNAL, "device control socket");
  }

  #fail(e: unknown): void {
    this.#send(encodeText(Op.ReplyError, (e as Error).message ?? String(e)));
  }

  /** Handles one request; returns false after Shutdown. */
  handle(msg: Uint8Array): boolean {
    const d = this.device;
    switch (msg[0]) {
      case Op.ReadConfig: {
        const { offset, length } = decodeConfigAccess(msg);
        const out = this.#reply.subarray(0, 1 + length);
        out[0] = Op.ReplyOk;
        const data = out.subarray(1);
        data.fill(0);
        try {
          d.readConfig(offset, data);
        } catch (e) {
          this.#guestLog.warn("config read", `config read at ${offset}: ${(e as Error).message}`);
          data.fill(0);
        }
        this.#send(out);
        return true;
      }
      case Op.WriteConfig: {
        const { offset, data } = decodeConfigAccess(msg);
        try {
          d.writeConfig(offset, data);
        } catch (e) {
          this.#guestLog.warn("config write", `config write at ${offset}: ${(e as Error).message}`);
        }
        return true;
      }
      case Op.AckFeatures:
        d.ackFeatures(readU64(msg));
        return true;
      case Op.QueueNotify:
        if (this.#active) this.notifyQueue(readU16(msg));
        return true;
      case Op.Activate:
        try {
          this.#activate(msg);
          this.#send(this.#ok);
        } catch (e) {
          this.#fail(e);
        }
        return true;
      case Op.Reset:
      case Op.Sleep:
      case Op.Wake:
        try {
          if (msg[0] === Op.Reset) {
            d.reset();
            this.#active = false;
            this.#queues = new Map();
          } else if (msg[0] === Op.Sleep) d.sleep?.();
          else d.wake?.();
          this.#send(this.#ok);
        } catch (e) {
          this.#fail(e);
        }
        return true;
      case Op.Resize:
        try {
          const resizable = d as Partial<{ resize(bytes: number): void }>;
          if (typeof resizable.resize !== "function") throw new Error(`${d.debugLabel} cannot be resized`);
          resizable.resize(Number(readU64(msg)));
          this.#send(this.#ok);
        } catch (e) {
          this.#fail(e);
        }
        return true;
      case Op.DeviceRequest:
        try {
          if (typeof d.controlRequest !== "function")
            throw new Error(`${d.debugLabel} takes no device requests`);
          const answer = d.controlRequest(msg.subarray(1));
          const out = this.#reply.subarray(0, 1 + answer.length);
          out[0] = Op.ReplyOk;
          out.set(answer, 1);
          this.#send(out);
        } catch (e) {
          this.#fail(e);
        }
        return true;
      case Op.Shutdown:
        // The last slices go before the reply: the VMM drains the event socket once the process has ended.
        this.sendQueueTrace(undefined);
        this.#send(this.#ok);
        return false;
      default:
        log.warn(`${d.debugLabel}: ignoring unknown request opcode ${msg[0]}`);
        return true;
    }
  }

  #activate(msg: Uint8Array): void {
    const { features, queues } = decodeActivate(msg);
    const map = new Map<number, Queue>();
    for (const q of queues) {
      if (q.index >= this.spec.fds.queueEvents.length)
        throw new Error(`queue ${q.index}: the device has ${this.spec.fds.queueEvents.length} queues`);
      const restored = Queue.restore(q, this.mem, features);
      if (typeof restored === "string") throw new Error(`queue ${q.index}: ${restored}`);
      map.set(q.index, restored);
    }
    if (this.queueTrace)
      for (const [index, queue] of map) queue.traceWith(this.queueTrace.forQueue(index, queue.maxSize));
    this.device.activate(this.mem, this.interrupt, map);
    this.#queues = map;
    this.#active = true;
  }

  /** The queue's ioeventfd (or a QueueNotify) woke the device: process the queue, timed when tracing. */
  notifyQueue(index: number): void {
    const trace = this.queueTrace === undefined ? undefined : this.#queues.get(index)?.trace;
    if (trace === undefined) {
      this.device.queueNotify(index);
      return;
    }
    trace.notified(epochMs());
    try {
      this.device.queueNotify(index);
    } finally {
      trace.settled(this.#queues.get(index)?.batchLimited ?? false);
    }
  }

  /**
   * Sends the queue slices that ended by `now` (all of them when `now` is undefined: at Shutdown) on the event
   * socket, in as many messages as they need; a full socket drops them (the VMM is not draining), counted in the
   * next send.
   */
  sendQueueTrace(now: number | undefined): void {
    const trace = this.queueTrace;
    if (!trace) return;
    this.#traceSentMs = now ?? epochMs();
    const { slices, dropped } = trace.take(now);
    const lost = dropped + this.#traceUnsent;
    this.#traceUnsent = 0;
    encodeQueueTrace(slices, lost).forEach((msg, i) => {
      if (send(this.spec.fds.events, msg, MSG_DONTWAIT | MSG_NOSIGNAL, "device event socket") === null)
        this.#traceUnsent += (msg.length - QUEUE_TRACE_HEADER) / QUEUE_SLICE_SIZE + (i === 0 ? lost : 0);
    });
  }

  /** Sends the finished slices when the last send is at least TRACE_SEND_MS old. */
  sendQueueTraceIfDue(): void {
    if (!this.queueTrace) return;
    const now = epochMs();
    if (now - this.#traceSentMs >= TRACE_SEND_MS) this.sendQueueTrace(now);
  }

  /**
   * Signals again the eventfd of every queue whose last batch stopped at the limit (process_queue.ts), so that the
   * next wakeup returns to it after the control socket has been answered.
   */
  rearmBatchLimitedQueues(): void {
    if (!this.#active) return;
    for (const [index, queue] of this.#queues)
      if (queue.takeBatchLimited()) eventfdWrite(this.spec.fds.queueEvents[index]!);
  }
}

// The serve loop never returns to Bun's event loop, which is where Bun schedules its own garbage collections, so
// JavaScriptCore collects only when its allocation budget runs out: the garbage of a burst of requests stays
// (a busy block device reached about 20 MiB of heap, 9 MiB once collected). So once the device has been woken
// this many times since the last collection, a second without a wakeup triggers a full one: it costs nothing
// while requests keep coming and runs only when the device is idle.
const WAKEUPS_BEFORE_IDLE_COLLECTION = 64;
const IDLE_MS_BEFORE_COLLECTION = 1000;
/**
 * --trace-file: the queue slices go to the VMM about this often (after a wakeup at least this long after the last
 * send, or after this long without one while a slice is still open), and at Shutdown.
 */
const TRACE_SEND_MS = 1000;

/** Serves requests and queue notifications until Shutdown or until the VMM closes the socket. */
function serve(server: DeviceServer, sources: PollSource[], kernelQueues: readonly number[] = []): void {
  const { control } = server.spec.fds;
  // A queue a kernel back end serves (vhost) keeps its ioeventfd to the kernel: polled here as fd -1 (skipped).
  const queueEvents = server.spec.fds.queueEvents.map((fd, i) => (kernelQueues.includes(i) ? -1 : fd));
  const buf = new Uint8Array(MAX_MESSAGE);
  const live = [...sources];
  // One pollfd array reused for every wakeup: control socket, then the queue eventfds (while active), then the
  // device's own sources. Refilled each time (a few stores) since activation and the sources change it.
  const fds = new PollSet();
  let wakeupsSinceCollection = 0;
  for (;;) {
    const queueCount = server.active ? queueEvents.length : 0;
    fds.clear();
    fds.add(control, POLLIN);
    for (let i = 0; i < queueCount; i++) fds.add(queueEvents[i]!, POLLIN);
    // A source that does not want polling now stays in the set as fd -1, which poll(2) skips (revents 0), so that
    // indexes keep matching `live` (a detached TAP queue would otherwise report POLLERR at once, for ever).
    for (let i = 0; i < live.length; i++) {
      const source = live[i]!;
      fds.add(source.wanted === undefined || source.wanted() ? source.fd : -1, POLLIN);
    }
    const collectionDue = wakeupsSinceCollection >= WAKEUPS_BEFORE_IDLE_COLLECTION;
    // Tracing: an open slice is sent after a quiet second, so an idle device's last requests still arrive.
    const traceDue = server.queueTrace?.hasData === true;
    const timeoutMs = collectionDue ? IDLE_MS_BEFORE_COLLECTION : traceDue ? TRACE_SEND_MS : -1;
    if (fds.wait(timeoutMs) === 0) {
      // Nothing ready: the idle timeout, or a signal (EINTR), after which an early collection does no harm.
      if (collectionDue) {
        Bun.gc(true);
        wakeupsSinceCollection = 0;
      }
      if (traceDue) server.sendQueueTrace(epochMs());
      continue;
    }
    wakeupsSinceCollection++;
    const controlEvents = fds.revents(0);
    if (controlEvents & POLLIN) {
      const n = recv(control, buf, 0, "device control socket");
      if (n === 0 || n === null) return; // the VMM is gone (EOF)
      if (!server.handle(buf.subarray(0, n))) return;
    } else if (controlEvents & (POLLHUP | POLLERR)) return;
    for (let i = 0; i < queueCount; i++) {
      if (fds.revents(1 + i) & POLLIN && eventfdConsume(queueEvents[i]!) && server.active)
        server.notifyQueue(i);
    }
    for (let i = live.length - 1; i >= 0; i--) {
      const r = fds.revents(1 + queueCount + i);
      if (r & (POLLIN | POLLHUP | POLLERR) && !live[i]!.onReadable()) live.splice(i, 1);
    }
    server.rearmBatchLimitedQueues();
    server.sendQueueTraceIfDue();
  }
}

export interface DeviceHostMode {
  /**
   * The device runs in a Worker of the VMM (single process mode, --disable-sandbox; device_worker.ts): the spec's
   * fds are the VMM's own, and the executable's start-up pages stay (the VMM drops them itself).
   */
  readonly inProcess?: boolean;
}

/**
 * Entry point of `crosvm device-process KIND SPEC_JSON`, and of a device Worker in single process mode; resolves
 * to the exit status.
 */
export async function runDeviceProcess(argv: readonly string[], mode: DeviceHostMode = {}): Promise<number> {
  const [kind, json] = argv;
  if (kind === undefined || json === undefined) {
    process.stderr.write("device-process: expected KIND SPEC_JSON\n");
    return 2;
  }
  let label = kind;
  try {
    const spec = parseLaunchSpec(json);
    setLogLevelSpec(spec.logLevel);
    const given = [
      spec.fds.control,
      spec.fds.events,
      spec.fds.memfd,
      ...spec.fds.queueEvents,
      ...spec.fds.irqfds,
    ];
    const keep = [...given, ...spec.fds.backing];
    const sandbox = spec.sandbox;
    // Descriptors first: the device's own files (a disk image) are opened after this and kept.
    if (sandbox) {
      const closed = closeUnlistedFds(keep, sandbox.leakedFds);
      log.debug(`${kind}: closed ${closed.length ? `fds ${closed.join(", ")}` : "no fds"} it was not given`);
    }
    const mem = mapGuestMemory(spec);
    const built = buildVirtioDevice(kind, spec.options, spec.fds.backing, spec.mapping, {
      queueEvents: spec.fds.queueEvents,
      irqfds: spec.fds.irqfds,
    });
    const device = built.device;
    label = device.debugLabel;
    const interrupt = new ChildInterrupt(spec.fds.irqfds, spec.fds.events);
    const server = new DeviceServer(spec, device, mem, interrupt);
    const pid = hostPid();
    // /proc is out of reach once confined.
    const startupPages = mode.inProcess ? undefined : executableStartupPages();
    if (sandbox) {
      // Compiled (and its files read) before the pivot takes the source tree away.
      const program = embeddedPolicy(built.policy, { logFailures: sandbox.logFailures });
      const report = confine({
        namespaces: sandbox.namespaces,
        pivotRoot: built.pivotRoot ?? sandbox.pivotRoot,
        seccomp: { program, policy: built.policy },
        ...(built.runAs ? { runAs: built.runAs } : {}),
      });
      log.debug(`${label} (pid ${pid}) confined: close-fds, ${report.applied.join(", ")}`);
    } else if (built.runAs) {
      // crosvm without a jail (--disable-sandbox) makes no device process to change, and ignores the keys too.
      log.warn(`${label}: ${built.runAs.what} not applied: the device is not sandboxed (--disable-sandbox)`);
    }
    send(
      spec.fds.control,
      encodeHello({
        pid,
        deviceType: device.deviceType,
        features: device.features(),
        queueMaxSizes: device.queueMaxSizes,
        debugLabel: device.debugLabel,
      }),
      MSG_NOSIGNAL,
      "device control socket",
    );
    // Start-up is over: collect its garbage (the allocator returns the freed pages) and drop the executable's
    // start-up pages (startup_pages.ts); the serve loop faults back the few it runs.
    Bun.gc(true);
    if (startupPages) {
      try {
        const bytes = releasePages(startupPages);
        log.debug(`${label}: dropped the pages of ${bytes >> 20} MiB of read-only executable mappings`);
      } catch (e) {
        log.debug(`${label}: start-up pages kept: ${(e as Error).message}`);
      }
    }
    serve(server, [...(built.pollSources ?? [])], built.kernelQueues);
    return 0;
  } catch (e) {
    process.stderr.write(`device ${mode.inProcess ? "" : "process "}${label}: ${(e as Error).message}\n`);
    return 1;
  }
}
