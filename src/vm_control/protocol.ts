// The control socket's messages: crosvm's VmRequest/VmResponse (vm_control/src/lib.rs), one JSON document per
// SOCK_SEQPACKET packet, exactly as serde_json writes them. serde's enums are externally tagged: a unit variant is
// its name as a string ("Exit"), a struct variant an object with one key ({"DiskCommand": {"disk_index": 0, ...}}),
// a newtype variant {"Name": value} ({"Err": 22}). Field names stay snake_case on the wire; the TypeScript types
// use camelCase and the codec maps between them.
//
// Only the requests this VMM serves are accepted; any other crosvm request decodes to an "unknown-request" error,
// which the server answers with {"ErrString": ...}.
import * as v from "valibot";
import { escapeControlCharacters } from "../base/printable.ts";
import { describeValue, formatPath } from "../base/shown_value.ts";

/** Largest message accepted or sent, in bytes. crosvm sets none; 64 KiB is far above any message here
 *  (a BalloonStats answer is under 1 KiB) and below the default SO_SNDBUF (212992), so a packet always fits. */
export const MAX_MESSAGE_SIZE = 64 * 1024;

// ---- Types ----------------------------------------------------------------------------------------------------

/** crosvm DiskControlCommand. */
export type DiskControlCommand = { readonly kind: "Resize"; readonly newSize: number };

/** crosvm BalloonControlCommand (vm_control/src/balloon_tube.rs), the variants served here. */
export type BalloonControlCommand =
  | { readonly kind: "Adjust"; readonly numBytes: number; readonly waitForSuccess: boolean }
  | { readonly kind: "Stats" };

/** crosvm NetControlCommand (vm_control/src/lib.rs, feature pci-hotplug): add a NIC on a TAP, remove one by bus. */
export type NetControlCommand =
  | { readonly kind: "AddTap"; readonly tapName: string }
  | { readonly kind: "RemoveTap"; readonly bus: number };

/** crosvm VmRequest, the variants served here. */
export type VmRequest =
  /** Break the VM's run loop and exit (status 0). */
  | { readonly kind: "Exit" }
  /** Trigger a power button event in the guest. */
  | { readonly kind: "Powerbtn" }
  /** Pause the vCPUs until ResumeVcpus. */
  | { readonly kind: "SuspendVcpus" }
  | { readonly kind: "ResumeVcpus" }
  /** Pause the vCPUs and put the devices to sleep until ResumeVm (`suspend --full`). */
  | { readonly kind: "SuspendVm" }
  | { readonly kind: "ResumeVm" }
  /** `diskIndex` counts --disk/--rwdisk/--root options in order, from 0. */
  | { readonly kind: "DiskCommand"; readonly diskIndex: number; readonly command: DiskControlCommand }
  | { readonly kind: "BalloonCommand"; readonly command: BalloonControlCommand }
  /** `crosvm virtio-net add|remove`: PCI hot-plug of a virtio-net device. */
  | { readonly kind: "HotPlugNetCommand"; readonly command: NetControlCommand };

export type VmRequestKind = VmRequest["kind"];

/** crosvm balloon_control::BalloonStats; `null` where the guest did not report the value. */
export interface BalloonStats {
  readonly swapIn: number | null;
  readonly swapOut: number | null;
  readonly majorFaults: number | null;
  readonly minorFaults: number | null;
  readonly freeMemory: number | null;
  readonly totalMemory: number | null;
  readonly availableMemory: number | null;
  readonly diskCaches: number | null;
  readonly hugetlbAllocations: number | null;
  readonly hugetlbFailures: number | null;
  readonly sharedMemory: number | null;
  readonly unevictableMemory: number | null;
}

/** crosvm VmResponse, the variants produced here. */
export type VmResponse =
  | { readonly kind: "Ok" }
  /** A system error, as crosvm's base::Error (serialized as the bare errno number). */
  | { readonly kind: "Err"; readonly errno: number }
  | { readonly kind: "ErrString"; readonly message: string }
  | { readonly kind: "BalloonStats"; readonly stats: BalloonStats; readonly balloonActual: number }
  /** The PCI bus a hot-plugged device went to (crosvm VmResponse::PciHotPlugResponse { bus: u8 }). */
  | { readonly kind: "PciHotPlugResponse"; readonly bus: number };

export type VmResponseKind = VmResponse["kind"];

export const OK: VmResponse = { kind: "Ok" };

export function errString(message: string): VmResponse {
  return { kind: "ErrString", message };
}

// ---- Errors ---------------------------------------------------------------------------------------------------

export type ProtocolErrorReason = "too-large" | "malformed-json" | "unknown-variant" | "invalid-fields";

/**
 * Why a message could not be decoded (or encoded); the message is one line naming the message kind, with the
 * control characters of what it quotes from the peer escaped (it is logged and sent back).
 */
export class ProtocolError extends Error {
  constructor(
    readonly reason: ProtocolErrorReason,
    message: string,
  ) {
    super(escapeControlCharacters(message));
    this.name = "ProtocolError";
  }
}

export type DecodeResult<T> =
  { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: ProtocolError };

// ---- Wire schemas (serde's JSON, snake_case) ------------------------------------------------------------------

// serde_json writes u64/usize as exact integers; a JavaScript number holds them exactly only up to 2^53 - 1.
const u64 = v.pipe(
  v.number("expected a number"),
  v.integer("expected an integer"),
  v.minValue(0, "expected a non-negative integer"),
  v.maxValue(Number.MAX_SAFE_INTEGER, `expected at most ${Number.MAX_SAFE_INTEGER}`),
);
const i32 = v.pipe(
  v.number("expected a number"),
  v.integer("expected an integer"),
  v.minValue(-(2 ** 31), "expected a 32-bit integer"),
  v.maxValue(2 ** 31 - 1, "expected a 32-bit integer"),
);
// serde ignores unknown struct fields (no deny_unknown_fields in vm_control), so struct bodies use v.object.
const diskControlCommandWire = v.strictObject(
  { Resize: v.object({ new_size: u64 }, 'expected {"new_size": N}') },
  'expected {"Resize": {"new_size": N}}',
);
const balloonControlCommandWire = v.union(
  [
    v.literal("Stats"),
    v.strictObject({
      Adjust: v.object(
        { num_bytes: u64, wait_for_success: v.boolean("expected a boolean") },
        'expected {"num_bytes": N, "wait_for_success": BOOL}',
      ),
    }),
  ],
  'expected "Stats" or {"Adjust": {"num_bytes": N, "wait_for_success": BOOL}}',
);
const u8 = v.pipe(
  v.number("expected a number"),
  v.integer("expected an integer"),
  v.minValue(0, "expected an integer from 0 to 255"),
  v.maxValue(255, "expected an integer from 0 to 255"),
);
// serde: NetControlCommand::AddTap(String) is {"AddTap": "name"}, RemoveTap(u8) is {"RemoveTap": 3}.
const netControlCommandWire = v.union(
  [v.strictObject({ AddTap: v.string("expected a string") }), v.strictObject({ RemoveTap: u8 })],
  'expected {"AddTap": "TAP_NAME"} or {"RemoveTap": BUS}',
);
const optionalU64 = v.nullish(u64, null);
const balloonStatsWire = v.object(
  {
    swap_in: optionalU64,
    swap_out: optionalU64,
    major_faults: optionalU64,
    minor_faults: optionalU64,
    free_memory: optionalU64,
    total_memory: optionalU64,
    available_memory: optionalU64,
    disk_caches: optionalU64,
    hugetlb_allocations: optionalU64,
    hugetlb_failures: optionalU64,
    shared_memory: optionalU64,
    unevictable_memory: optionalU64,
  },
  "expected an object of balloon stats",
);

/** One variant of an externally tagged enum: `body` is undefined for a unit variant, else the body's schema. */
type VariantDecoder<T> =
  | { readonly unit: true; readonly build: () => T }
  | {
      readonly unit: false;
      readonly body: v.GenericSchema;
      readonly build: (body: never) => T;
    };

function unit<T>(value: T): VariantDecoder<T> {
  return { unit: true, build: () => value };
}

function withBody<S extends v.GenericSchema, T>(
  body: S,
  build: (b: v.InferOutput<S>) => T,
): VariantDecoder<T> {
  return { unit: false, body, build: build as (body: never) => T };
}

const REQUEST_VARIANTS: Readonly<Record<VmRequestKind, VariantDecoder<VmRequest>>> = {
  Exit: unit({ kind: "Exit" }),
  Powerbtn: unit({ kind: "Powerbtn" }),
  SuspendVcpus: unit({ kind: "SuspendVcpus" }),
  ResumeVcpus: unit({ kind: "ResumeVcpus" }),
  SuspendVm: unit({ kind: "SuspendVm" }),
  ResumeVm: unit({ kind: "ResumeVm" }),
  DiskCommand: withBody(
    v.object(
      { disk_index: u64, command: diskControlCommandWire },
      'expected {"disk_index": N, "command": {"Resize": {"new_size": N}}}',
    ),
    (b) => ({
      kind: "DiskCommand",
      diskIndex: b.disk_index,
      command: { kind: "Resize", newSize: b.command.Resize.new_size },
    }),
  ),
  BalloonCommand: withBody(balloonControlCommandWire, (b) => ({
    kind: "BalloonCommand",
    command:
      b === "Stats"
        ? { kind: "Stats" }
        : { kind: "Adjust", numBytes: b.Adjust.num_bytes, waitForSuccess: b.Adjust.wait_for_success },
  })),
  HotPlugNetCommand: withBody(netControlCommandWire, (b) => ({
    kind: "HotPlugNetCommand",
    command: "AddTap" in b ? { kind: "AddTap", tapName: b.AddTap } : { kind: "RemoveTap", bus: b.RemoveTap },
  })),
};

const RESPONSE_VARIANTS: Readonly<Record<VmResponseKind, VariantDecoder<VmResponse>>> = {
  Ok: unit(OK),
  Err: withBody(i32, (errno) => ({ kind: "Err", errno })),
  ErrString: withBody(v.string("expected a string"), (message) => ({ kind: "ErrString", message })),
  BalloonStats: withBody(
    v.object(
      { stats: balloonStatsWire, balloon_actual: u64 },
      'expected {"stats": {...}, "balloon_actual": N}',
    ),
    (b) => ({
      kind: "BalloonStats",
      balloonActual: b.balloon_actual,
      stats: {
        swapIn: b.stats.swap_in,
        swapOut: b.stats.swap_out,
        majorFaults: b.stats.major_faults,
        minorFaults: b.stats.minor_faults,
        freeMemory: b.stats.free_memory,
        totalMemory: b.stats.total_memory,
        availableMemory: b.stats.available_memory,
        diskCaches: b.stats.disk_caches,
        hugetlbAllocations: b.stats.hugetlb_allocations,
        hugetlbFailures: b.stats.hugetlb_failures,
        sharedMemory: b.stats.shared_memory,
        unevictableMemory: b.stats.unevictable_memory,
      },
    }),
  ),
  PciHotPlugResponse: withBody(v.object({ bus: u8 }, 'expected {"bus": N}'), (b) => ({
    kind: "PciHotPlugResponse",
    bus: b.bus,
  })),
};

// ---- Encoding -------------------------------------------------------------------------------------------------

/** The request as serde_json's value (before stringifying). */
export function requestToJson(req: VmRequest): unknown {
  switch (req.kind) {
    case "Exit":
    case "Powerbtn":
    case "SuspendVcpus":
    case "ResumeVcpus":
    case "SuspendVm":
    case "ResumeVm":
      return req.kind;
    case "DiskCommand":
      return {
        DiskCommand: { disk_index: req.diskIndex, command: { Resize: { new_size: req.command.newSize } } },
      };
    case "BalloonCommand":
      return {
        BalloonCommand:
          req.command.kind === "Stats"
            ? "Stats"
            : { Adjust: { num_bytes: req.command.numBytes, wait_for_success: req.command.waitForSuccess } },
      };
    case "HotPlugNetCommand":
      return {
        HotPlugNetCommand:
          req.command.kind === "AddTap" ? { AddTap: req.command.tapName } : { RemoveTap: req.command.bus },
      };
  }
}

/** The response as serde_json's value (before stringifying). */
export function responseToJson(resp: VmResponse): unknown {
  switch (resp.kind) {
    case "Ok":
      return "Ok";
    case "Err":
      return { Err: resp.errno };
    case "ErrString":
      return { ErrString: resp.message };
    case "BalloonStats": {
      const s = resp.stats;
      return {
        BalloonStats: {
          stats: {
            swap_in: s.swapIn,
            swap_out: s.swapOut,
            major_faults: s.majorFaults,
            minor_faults: s.minorFaults,
            free_memory: s.freeMemory,
            total_memory: s.totalMemory,
            available_memory: s.availableMemory,
            disk_caches: s.diskCaches,
            hugetlb_allocations: s.hugetlbAllocations,
            hugetlb_failures: s.hugetlbFailures,
            shared_memory: s.sharedMemory,
            unevictable_memory: s.unevictableMemory,
          },
          balloon_actual: resp.balloonActual,
        },
      };
    }
    case "PciHotPlugResponse":
      return { PciHotPlugResponse: { bus: resp.bus } };
  }
}

const utf8Encoder = new TextEncoder();
const utf8Decoder = new TextDecoder("utf-8", { fatal: true });

function encode(json: unknown, what: string): Uint8Array {
  const bytes = utf8Encoder.encode(JSON.stringify(json));
  if (bytes.length > MAX_MESSAGE_SIZE) {
    throw new ProtocolError(
      "too-large",
      `${what}: ${bytes.length} bytes is over the ${MAX_MESSAGE_SIZE}-byte message limit`,
    );
  }
  return bytes;
}

/** One request packet. Throws ProtocolError only when the message would exceed MAX_MESSAGE_SIZE. */
export function encodeRequest(req: VmRequest): Uint8Array {
  return encode(requestToJson(req), `control request ${req.kind}`);
}

/** One response packet. Throws ProtocolError only when the message would exceed MAX_MESSAGE_SIZE. */
export function encodeResponse(resp: VmResponse): Uint8Array {
  return encode(responseToJson(resp), `control response ${resp.kind}`);
}

// ---- Decoding -------------------------------------------------------------------------------------------------

function fail<T>(reason: ProtocolErrorReason, message: string): DecodeResult<T> {
  return { ok: false, error: new ProtocolError(reason, message) };
}

function describeIssue(issue: v.BaseIssue<unknown>): string {
  const path = issue.path === undefined ? null : formatPath(issue.path.map((p) => p.key));
  // A field left out is reported with its object's "expected ..." message; saying it is missing is clearer.
  const missing =
    (issue.type === "object" || issue.type === "strict_object") && issue.received === "undefined";
  const message = missing ? "missing" : issue.message;
  return path === null ? message : `${path}: ${message}`;
}

function decodeTagged<K extends string, T>(
  bytes: Uint8Array,
  what: string,
  variants: Readonly<Record<K, VariantDecoder<T>>>,
): DecodeResult<T> {
  if (bytes.length > MAX_MESSAGE_SIZE) {
    return fail(
      "too-large",
      `${what}: ${bytes.length} bytes is over the ${MAX_MESSAGE_SIZE}-byte message limit`,
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(utf8Decoder.decode(bytes));
  } catch (e) {
    return fail("malformed-json", `${what}: malformed JSON (${(e as Error).message})`);
  }

  let tag: string;
  let body: unknown;
  if (typeof json === "string") {
    tag = json;
  } else if (
    typeof json === "object" &&
    json !== null &&
    !Array.isArray(json) &&
    Object.keys(json).length === 1
  ) {
    tag = Object.keys(json)[0]!;
    body = (json as Record<string, unknown>)[tag];
  } else {
    return fail("invalid-fields", `${what}: expected "Name" or {"Name": ...}, got ${describeValue(json)}`);
  }

  const names = Object.keys(variants);
  if (!Object.hasOwn(variants, tag)) {
    return fail(
      "unknown-variant",
      `${what}: unknown variant ${describeValue(tag)} (expected one of ${names.join(", ")})`,
    );
  }
  const variant = variants[tag as K];
  if (variant.unit) {
    if (body !== undefined) return fail("invalid-fields", `${what}: ${tag} takes no fields (send "${tag}")`);
    return { ok: true, value: variant.build() };
  }
  if (body === undefined) return fail("invalid-fields", `${what}: ${tag} needs fields ({"${tag}": ...})`);
  const parsed = v.safeParse(variant.body, body);
  if (!parsed.success)
    return fail("invalid-fields", `${what}: invalid ${tag}: ${describeIssue(parsed.issues[0])}`);
  return { ok: true, value: variant.build(parsed.output as never) };
}

/** Decodes one request packet; never throws. */
export function decodeRequest(bytes: Uint8Array): DecodeResult<VmRequest> {
  return decodeTagged(bytes, "control request", REQUEST_VARIANTS);
}

/** Decodes one response packet; never throws. */
export function decodeResponse(bytes: Uint8Array): DecodeResult<VmResponse> {
  return decodeTagged(bytes, "control response", RESPONSE_VARIANTS);
}
