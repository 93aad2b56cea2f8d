// A virtio device kind: everything the VMM and a device process need to know about one kind of virtio device, in
// one module beside the device (crosvm keeps the same split between src/crosvm/sys/linux/device_helpers.rs and
// devices/src/virtio/<dev>). The two sides of the process boundary share the kind's valibot schema, so the options
// the VMM checked before the launch are checked again, into the same type, where the model is built:
//
//   VMM (src/vmm/virtio_devices.ts)                     device process (src/jail/device_process/host.ts)
//   select(config) -> raw options per device            parseDeviceOptions(kind, spec.options)
//   parseDeviceOptions(kind, raw)                        build(options, backing) -> the VirtioDevice
//   prepare(options): label and backing descriptors      ...serves it, confined by policy/<policy>.policy
//   control.handle(options, request, device)
//
// Every virtio-pci function has the same BAR layout (BAR0, virtio_pci_device.ts), so a kind names no BAR.
import * as v from "valibot";
import type { BalloonGuestStats } from "./balloon/stats.ts";
import type { VirtioDevice } from "./virtio_device.ts";

/** An fd the device process waits on besides its socket and queue eventfds (e.g. console input). */
export interface PollSource {
  readonly fd: number;
  /** Called when `fd` is readable; returns false once the source is exhausted (EOF) and must be dropped. */
  onReadable(): boolean;
  /**
   * Whether to poll `fd` now (absent: always). A source whose reader has nowhere to put what it reads (a NIC
   * whose guest has no receive buffers) says false, and is polled again once the device has room.
   */
  wanted?(): boolean;
}

/** What a kind's factory built in the device process. */
export interface BuiltDevice {
  readonly device: VirtioDevice;
  readonly pollSources?: readonly PollSource[];
  /**
   * The directory a sandboxed device process pivots into instead of the empty pivot root: the shared directory
   * of a file-system device (crosvm's fs jail), whose guest may only ever see that tree.
   */
  readonly pivotRoot?: string;
  /**
   * Host ids a sandboxed device process takes after its pivot, giving up its privileges with a uid (crosvm's
   * RunAsUser::Specified, from --shared-dir's uid and gid keys; src/jail/run_as.ts); absent: it keeps the ids the
   * launcher gave it. `what` names the option for errors.
   */
  readonly runAs?: { readonly uid?: number; readonly gid?: number; readonly what: string };
  /**
   * Queues whose ioeventfd a kernel back end reads itself (vhost: rx and tx of vhost-vsock): the serve loop does
   * not poll them, so that it never takes a kick away from the kernel.
   */
  readonly kernelQueues?: readonly number[];
}

/** The device's eventfds as the VMM created them (src/jail/device_process/launch_spec.ts). */
export interface DeviceEventFds {
  /** The ioeventfd of queue i at index i (KVM signals it on the guest's notify write). */
  readonly queueEvents: readonly number[];
  /** The irqfd of MSI-X vector v at index v (KVM injects the vector's MSI when it is signalled). */
  readonly irqfds: readonly number[];
}

/** What the VMM prepared for one device before its process starts (files are opened before confinement). */
export interface PreparedDevice {
  /** For logs and MSI routes: "virtio-blk 0 (disk.img)". */
  readonly label: string;
  /** Descriptors of the device's files, in the order the kind's `build` reads them; the VMM closes them at exit. */
  readonly backing: readonly number[];
  /**
   * Host memory the VMM maps into guest physical memory for the device, through a memory slot of its own
   * (virtio-pmem's file); the device's `build` then learns where it went.
   */
  readonly guestMapping?: GuestMappingRequest;
}

/** A file (or memfd) to map into guest physical memory from offset 0, MAP_SHARED. */
export interface GuestMappingRequest {
  readonly fd: number;
  /** Bytes of the file to map (its size); the VMM backs the rest of `size` with anonymous memory. */
  readonly fileBytes: number;
  /** Bytes of guest physical address space the mapping takes (at least fileBytes). */
  readonly size: number;
  /** A read-only memory slot: guest writes exit to the VMM, which drops them. */
  readonly readOnly: boolean;
}

/** Where the VMM placed a device's GuestMappingRequest in guest physical memory. */
export interface GuestMapping {
  readonly start: number;
  readonly size: number;
}

/** A control-socket request for one device (crosvm's DiskCommand, BalloonControlCommand). */
export type DeviceControlRequest =
  | { readonly type: "resize"; readonly bytes: number }
  | { readonly type: "balloon-adjust"; readonly bytes: number; readonly wait: boolean }
  | { readonly type: "balloon-stats" };

/** What a control hook answers: nothing, or the balloon's report (balloon_stats). */
export type DeviceControlReply = undefined | BalloonControlReport;

/** The balloon's size in bytes and the guest's statistics (crosvm's BalloonTubeResult::Stats). */
export interface BalloonControlReport {
  readonly actualBytes: number;
  readonly stats: BalloonGuestStats;
}

/** The device as the control hook reaches it (the VMM's proxy of the device process). */
export interface ControlledDevice {
  resize(bytes: number): void;
  /** A kind-specific request to the model (its `controlRequest`); returns its reply. */
  deviceRequest(payload: Uint8Array): Uint8Array;
  /** Called with each kind-specific event the model raises (Interrupt.signalDeviceEvent); one listener. */
  onDeviceEvent: ((payload: Uint8Array) => void) | undefined;
}

export interface DeviceKindControl<O> {
  /** The control socket's name for the kind's devices, numbered from 0 in attach order ("disk": DISK_INDEX). */
  readonly group: string;
  /**
   * Carries out `request` on `device` (whose options are `options`); throws (or rejects) with a one-line reason
   * to refuse.
   */
  handle(
    options: O,
    request: DeviceControlRequest,
    device: ControlledDevice,
  ): void | DeviceControlReply | Promise<DeviceControlReply>;
}

export type OptionsSchema = v.GenericSchema<unknown, unknown>;

/**
 * Queue sizes from a device's options; declared as a method so that, like `prepare` and `build`, a kind with
 * typed options is still an AnyVirtioDeviceKind (method parameters are bivariant).
 */
type QueueSizesOf<O> = { sizes(options: O): readonly number[] }["sizes"];

/**
 * One kind of virtio device. `C` is the part of the VM configuration the kind reads (structural: the VMM's
 * VmConfig satisfies it without this layer importing it).
 */
export interface VirtioDeviceKind<S extends OptionsSchema = OptionsSchema, C = never> {
  /** The device process's KIND argument. */
  readonly name: string;
  /** policy/NAME.policy (without the suffix): the seccomp filter of its device process. */
  readonly policy: string;
  /** The options one device of the kind gets; strict, with no defaults the VMM could silently miss. */
  readonly schema: S;
  /**
   * Maximum size of each queue (their count is the number of queue eventfds), or a function of the device's
   * options when they set the count (virtio-net's vq-pairs). The device's Hello must say the same: a device
   * process cannot choose its own queues.
   */
  readonly queueSizes: readonly number[] | QueueSizesOf<v.InferOutput<S>>;
  /** MSI-X vectors: one per queue plus the configuration-change vector, unless the kind says otherwise. */
  readonly msixVectors?: number;
  /**
   * VMM: the options of every device of the kind this VM has, in attach order, still to be checked with `schema`
   * (a property, so that the VMM's list of kinds checks its configuration type against `C` strictly).
   */
  readonly select: (config: C) => readonly v.InferInput<S>[];
  /** VMM, before the device process starts: opens the device's files. `index` counts devices of the kind. */
  prepare(options: v.InferOutput<S>, index: number): PreparedDevice;
  /**
   * Device process, before confinement: builds the model over the descriptors `prepare` listed (and, for a kind
   * whose `prepare` asked for one, where its guest mapping went). `events` are the device's queue and interrupt
   * eventfds, for a kind that hands them to a kernel back end (vhost).
   */
  build(
    options: v.InferOutput<S>,
    backing: readonly number[],
    mapping?: GuestMapping,
    events?: DeviceEventFds,
  ): BuiltDevice;
  /** Requests the control socket may send to devices of this kind. */
  readonly control?: DeviceKindControl<v.InferOutput<S>>;
}

/** A kind whose option and configuration types are no longer known (the device process's view). */
export type AnyVirtioDeviceKind = VirtioDeviceKind<OptionsSchema, never>;

/** Identity, for inference: `defineDeviceKind({ schema: v.strictObject(...), build(o) {...} })` types `o`. */
export function defineDeviceKind<S extends OptionsSchema, C>(
  kind: VirtioDeviceKind<S, C>,
): VirtioDeviceKind<S, C> {
  return kind;
}

/** The queue sizes of a device of `kind` with `options` (checked with the kind's schema). */
export function kindQueueSizes(kind: AnyVirtioDeviceKind, options: unknown): readonly number[] {
  const sizes = kind.queueSizes as readonly number[] | ((o: unknown) => readonly number[]);
  return typeof sizes === "function" ? sizes(options) : sizes;
}

export function msixVectorCount(kind: AnyVirtioDeviceKind, options?: unknown): number {
  return kind.msixVectors ?? kindQueueSizes(kind, options).length + 1;
}

/** A device's options, or its launch spec, are not what its kind expects. */
export class DeviceOptionsError extends Error {
  override name = "DeviceOptionsError";
}

/**
 * Checks `input` against the kind's schema; `side` says where ("VMM", "device process"). Throws DeviceOptionsError
 * with one line naming the kind, the key and what was expected.
 */
export function parseDeviceOptions<S extends OptionsSchema>(
  kind: VirtioDeviceKind<S, never>,
  input: unknown,
  side: string,
): v.InferOutput<S> {
  const result = v.safeParse(kind.schema, input);
  if (result.success) return result.output as v.InferOutput<S>;
  // Unknown keys first: a renamed key is both unknown and missing, and its new name is the useful part.
  const reasons = result.issues
    .map((issue) => describeIssue(issue, kind.schema))
    .sort((a, b) => Number(!a.startsWith("unknown key")) - Number(!b.startsWith("unknown key")));
  throw new DeviceOptionsError(`${kind.name} device options (${side}): ${reasons.join("; ")}`);
}

function describeIssue(issue: v.BaseIssue<unknown>, schema: OptionsSchema): string {
  const key = v.getDotPath(issue);
  if (issue.type === "strict_object" && key !== null) {
    if (issue.expected === "never") return `unknown key "${key}" (known: ${knownKeys(schema)})`;
    return `key "${key}" is missing`;
  }
  const what = `expected ${issue.message}, got ${JSON.stringify(issue.input) ?? "undefined"}`;
  return key === null ? what : `key "${key}": ${what}`;
}

function knownKeys(schema: OptionsSchema): string {
  const entries = (schema as Partial<{ entries: Record<string, unknown> }>).entries;
  return entries ? Object.keys(entries).join(", ") || "none" : "none";
}
