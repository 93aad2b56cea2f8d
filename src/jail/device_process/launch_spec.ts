// What the VMM tells a device process on its command line: `crosvm device-process KIND SPEC_JSON`. Descriptor
// numbers are the child's: spawn.ts passes every descriptor as an extra stdio entry, so the i-th lands on 3 + i.
import { DeviceOptionsError } from "../../devices/virtio/kind.ts";

/** The hidden subcommand that runs a device process (src/main.ts dispatches it before the CLI). */
export const DEVICE_PROCESS_SUBCOMMAND = "device-process";

export interface SpecRegion {
  readonly guestAddr: number;
  readonly size: number;
  readonly fdOffset: number;
}

export interface DeviceLaunchSpec {
  /** The device's options, checked again with its kind's schema (src/devices/virtio/kind.ts). */
  readonly options: unknown;
  readonly memory: readonly SpecRegion[];
  readonly fds: {
    /** Request/reply socket (protocol.ts). */
    readonly control: number;
    /** Event socket: interrupts that need the transport, needs-reset. */
    readonly events: number;
    readonly memfd: number;
    /** One eventfd per queue, signalled by KVM on the queue's notify address (KVM_IOEVENTFD). */
    readonly queueEvents: readonly number[];
    /** One eventfd per MSI-X vector, registered by the VMM with KVM as an irqfd (KVM_IRQFD). */
    readonly irqfds: readonly number[];
    /** The device's files, in the order its options refer to them. */
    readonly backing: readonly number[];
  };
  /** undefined runs the device process unconfined (tests only; --disable-sandbox runs devices in-process). */
  readonly sandbox?: {
    /** Namespaces the launcher already entered, e.g. ["mount", "network", "ipc", "pid"] (and "user"). */
    readonly namespaces: readonly string[];
    readonly pivotRoot: string;
    readonly logFailures: boolean;
    /** Descriptors the parent had open without CLOEXEC (inherited under their own numbers): closed first. */
    readonly leakedFds: readonly number[];
  };
  /** --log-level spec text for the child's loggers. */
  readonly logLevel: string;
  /** Where the VMM mapped the device's guest mapping (virtio-pmem), when its kind asked for one. */
  readonly mapping?: { readonly start: number; readonly size: number };
  /** --trace-file: the slice length (ms) of the queue trace (queue_trace.ts); absent when the VMM does not trace. */
  readonly traceSliceMs?: number;
}

/** Longest queue trace slice a spec may ask for. */
const MAX_TRACE_SLICE_MS = 60_000;

const isFd = (v: unknown): v is number => typeof v === "number" && Number.isInteger(v) && v >= 0;
const isFdList = (v: unknown): v is number[] => Array.isArray(v) && v.every(isFd);

/** Parses SPEC_JSON; throws DeviceOptionsError naming what is wrong. */
export function parseLaunchSpec(json: string): DeviceLaunchSpec {
  let spec: DeviceLaunchSpec;
  try {
    spec = JSON.parse(json) as DeviceLaunchSpec;
  } catch (e) {
    throw new DeviceOptionsError(`device-process spec: not JSON (${(e as Error).message})`);
  }
  const f = spec?.fds;
  if (!f || !isFd(f.control) || !isFd(f.events) || !isFd(f.memfd))
    throw new DeviceOptionsError(
      "device-process spec: fds.control, fds.events and fds.memfd must be fd numbers",
    );
  if (!isFdList(f.queueEvents) || !isFdList(f.irqfds) || !isFdList(f.backing))
    throw new DeviceOptionsError("device-process spec: fds.queueEvents, irqfds and backing must be fd lists");
  if (
    !Array.isArray(spec.memory) ||
    !spec.memory.every((r) =>
      [r?.guestAddr, r?.size, r?.fdOffset].every((n) => Number.isSafeInteger(n) && n >= 0),
    )
  )
    throw new DeviceOptionsError("device-process spec: memory must list {guestAddr, size, fdOffset} regions");
  const m = spec.mapping;
  if (m !== undefined && ![m?.start, m?.size].every((n) => Number.isSafeInteger(n) && n >= 0))
    throw new DeviceOptionsError("device-process spec: mapping must be {start, size}");
  const t = spec.traceSliceMs;
  if (t !== undefined && !(Number.isInteger(t) && t >= 1 && t <= MAX_TRACE_SLICE_MS))
    throw new DeviceOptionsError(`device-process spec: traceSliceMs must be 1..${MAX_TRACE_SLICE_MS} ms`);
  if (typeof spec.logLevel !== "string")
    throw new DeviceOptionsError("device-process spec: logLevel missing");
  return spec;
}
