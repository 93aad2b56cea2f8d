// Fuzz target: virtio-input's queues from a hostile driver (chain_fuzzer.ts makes the chains and checks the
// device), for each socket-fed kind's configuration. Status chains carry struct virtio_input_event records (LED
// and other events the device lists, EV_SYN, random types and codes; lengths that are not whole records, more
// records than the device reads from one chain); eventq chains are the buffers for host events. Besides the
// chain checks, the event source gets exactly the status events of good chains that the device lists (at most
// STATUS_EVENTS_PER_CHAIN per chain), and each good eventq chain the next host event when it has room for one.
import { logger } from "../../src/base/log.ts";
import { hasBit } from "../../src/devices/virtio/input/config.ts";
import {
  EV_SYN,
  INPUT_EVENTQ,
  INPUT_STATUSQ,
  SYN_REPORT,
  VIRTIO_INPUT_EVENT_SIZE,
} from "../../src/devices/virtio/input/constants.ts";
import { defaultInputConfig, SOCKET_INPUT_KINDS } from "../../src/devices/virtio/input/defaults.ts";
import { STATUS_EVENTS_PER_CHAIN, VirtioInput } from "../../src/devices/virtio/input/device.ts";
import {
  decodeVirtioEvent,
  encodeVirtioEvent,
  eventProblem,
  type InputEvent,
} from "../../src/devices/virtio/input/events.ts";
import { DATA_BASE, FakeInterrupt } from "../../src/devices/virtio/testing.ts";
import { GuestMemory } from "../../src/vm_memory/guest_memory.ts";
import { bytesFinding } from "../bytes.ts";
import { type ChainShape, MEM_SIZE, runChainFuzz } from "../chain_fuzzer.ts";
import { DriverSides } from "../driver_sides.ts";
import { bytesOf, canReadBack, type SeenChain, type UsedEntry, writableOf } from "../queue_recorder.ts";
import { lengthOf } from "../ranges.ts";
import { type FuzzReport, type Rng, tally } from "../random.ts";

/** Host events kept pending at most: far below INPUT_PENDING_LIMIT, so none is dropped for lack of room. */
const MAX_PENDING_EVENTS = 64;

/** Status: readable buffers of whole records, mostly (Linux sends one record per chain). */
const STATUS: ChainShape = {
  interestingLengths: [
    0,
    1,
    VIRTIO_INPUT_EVENT_SIZE - 1,
    VIRTIO_INPUT_EVENT_SIZE,
    VIRTIO_INPUT_EVENT_SIZE * STATUS_EVENTS_PER_CHAIN,
    VIRTIO_INPUT_EVENT_SIZE * (STATUS_EVENTS_PER_CHAIN + 1),
  ],
  dataSectors: 2,
  maxIndirect: 4,
  maxDirect: 3,
  writableChance: 0.05,
  lastWritableChance: 0.05,
  plausibleLength: (rng, _i, _n, anyLength) =>
    rng.chance(0.8)
      ? VIRTIO_INPUT_EVENT_SIZE * (1 + rng.int(4)) + (rng.chance(0.1) ? 1 + rng.int(7) : 0)
      : anyLength(),
};

/** Eventq: device-writable buffers of one record, mostly (as Linux posts them). */
const EVENTS: ChainShape = {
  interestingLengths: [
    0,
    1,
    VIRTIO_INPUT_EVENT_SIZE - 1,
    VIRTIO_INPUT_EVENT_SIZE,
    VIRTIO_INPUT_EVENT_SIZE + 1,
  ],
  dataSectors: 1,
  maxIndirect: 4,
  maxDirect: 3,
  writableChance: 0.9,
  plausibleLength: (rng, _i, _n, anyLength) => (rng.chance(0.8) ? VIRTIO_INPUT_EVENT_SIZE : anyLength()),
};

/** Every (type, code) that `bitmaps` list. */
function listedEvents(bitmaps: ReadonlyMap<number, Uint8Array>): { type: number; code: number }[] {
  return [...bitmaps].flatMap(([type, bits]) =>
    Array.from({ length: bits.length * 8 }, (_, code) => code)
      .filter((code) => hasBit(bits, code))
      .map((code) => ({ type, code })),
  );
}

class Driver {
  readonly mem = GuestMemory.anonymous([{ guestAddr: 0, size: MEM_SIZE }]);
  readonly sides = new DriverSides(this.mem, [INPUT_EVENTQ, INPUT_STATUSQ]);
  readonly drivers = this.sides.drivers;
  readonly dev: VirtioInput;
  readonly listed: { type: number; code: number }[];
  /** Status events the event source got since the last check. */
  status: InputEvent[] = [];
  /** Host events not yet in an eventq buffer, as the device should have them. */
  events: InputEvent[] = [];

  constructor(rng: Rng) {
    const config = defaultInputConfig({ kind: rng.pick(SOCKET_INPUT_KINDS), index: 0 });
    this.listed = listedEvents(config.events);
    this.dev = new VirtioInput("virtio-input 0", config, { write: (e) => this.status.push(e) });
    this.dev.activate(this.mem, new FakeInterrupt(), this.sides.activate());
  }

  queueNotify(queue: number): void {
    this.dev.queueNotify(queue);
  }
}

/** An event the device lists, an EV_SYN, or random type and code. */
function event(rng: Rng, d: Driver): InputEvent {
  const value = rng.chance(0.5) ? rng.int(2) : rng.u32() | 0;
  switch (rng.int(4)) {
    case 0:
      return { type: EV_SYN, code: rng.chance(0.8) ? SYN_REPORT : rng.int(0x10000), value };
    case 1:
      return { type: rng.int(0x10000), code: rng.int(0x10000), value };
    default:
      return { ...rng.pick(d.listed), value };
  }
}

/** Slot 0: status records, sometimes more than the device reads from one chain. */
function fillStatus(rng: Rng, d: Driver): void {
  const n = rng.int(STATUS_EVENTS_PER_CHAIN + 16);
  const bytes = new Uint8Array(VIRTIO_INPUT_EVENT_SIZE * n);
  for (let i = 0; i < n; i++)
    encodeVirtioEvent(
      event(rng, d),
      bytes.subarray(VIRTIO_INPUT_EVENT_SIZE * i, VIRTIO_INPUT_EVENT_SIZE * (i + 1)),
    );
  d.mem.write(DATA_BASE, bytes);
}

/** Before an eventq chain: host events, so that the device has one for it. */
function pushEvents(rng: Rng, d: Driver): void {
  if (d.events.length >= MAX_PENDING_EVENTS || (d.events.length > 0 && rng.chance(0.8))) return;
  const events = Array.from({ length: 1 + rng.int(8) }, () => event(rng, d));
  d.dev.pushEvents(events);
  d.events.push(...events);
}

/** The status events a good chain's records should pass on: the listed ones among the first it reads. */
function passedOn(d: Driver, readable: Uint8Array): InputEvent[] {
  const records = Math.min(STATUS_EVENTS_PER_CHAIN, Math.floor(readable.length / VIRTIO_INPUT_EVENT_SIZE));
  return Array.from({ length: records }, (_, i) =>
    decodeVirtioEvent(readable, VIRTIO_INPUT_EVENT_SIZE * i),
  ).filter((e) => eventProblem(e, d.dev.config) === undefined);
}

function eventqFinding(
  d: Driver,
  pairs: readonly [SeenChain, UsedEntry][],
  stats: Record<string, number>,
): string | undefined {
  for (const [c, used] of pairs) {
    if (c.error) {
      if (used.len !== 0) return `eventq: refused chain ${c.head} used with ${used.len} bytes`;
      continue;
    }
    const e = d.events.shift();
    if (!e) return `eventq: chain ${c.head} taken with no host event pending`;
    const writable = writableOf(c);
    const room = lengthOf(writable) >= VIRTIO_INPUT_EVENT_SIZE;
    if (!room) tally(stats, "smallEventBuffers");
    const expected = room ? VIRTIO_INPUT_EVENT_SIZE : 0;
    if (used.len !== expected)
      return `eventq: chain ${c.head} used with ${used.len} bytes, expected ${expected}`;
    if (room && canReadBack(writable)) {
      tally(stats, "eventsChecked");
      const got = bytesOf(d.mem, writable, VIRTIO_INPUT_EVENT_SIZE);
      const wrong = bytesFinding("eventq: the guest got", got, encodeVirtioEvent(e));
      if (wrong) return wrong;
    }
  }
  return d.dev.pendingEvents === d.events.length
    ? undefined
    : `eventq: ${d.dev.pendingEvents} events pending, expected ${d.events.length}`;
}

function check(d: Driver, queue: number, stats: Record<string, number>): string | undefined {
  const { pairs, finding } = d.sides.poppedAndUsed(queue);
  if (finding) return finding;
  const got = d.status.splice(0);
  if (queue === INPUT_EVENTQ)
    return got.length > 0
      ? `eventq: ${got.length} status events reached the source`
      : eventqFinding(d, pairs, stats);
  const expected = pairs.flatMap(([c]) => (c.error ? [] : passedOn(d, c.readable)));
  if (pairs.some(([c]) => c.readable.length > VIRTIO_INPUT_EVENT_SIZE * STATUS_EVENTS_PER_CHAIN))
    tally(stats, "longStatusChains");
  tally(stats, "statusPassedOn", got.length);
  let at = 0;
  while (at < got.length && at < expected.length && Bun.deepEquals(got[at], expected[at])) at++;
  return at === got.length && at === expected.length
    ? undefined
    : `statusq: the source got ${got.length} events, ${expected.length} expected, first difference at ${at}`;
}

export function fuzzInputQueues(iterations: number, seed: number): FuzzReport {
  return runChainFuzz({
    target: "input_queues",
    seed,
    iterations,
    log: logger("devices::virtio::input"),
    expectedFailures: [],
    shape: (_d, queue) => (queue === INPUT_STATUSQ ? STATUS : EVENTS),
    queue: (rng) => (rng.chance(0.6) ? INPUT_STATUSQ : INPUT_EVENTQ),
    newDevice: (rng) => new Driver(rng),
    prepare: (rng, d, _stats, queue) => (queue === INPUT_STATUSQ ? fillStatus(rng, d) : pushEvents(rng, d)),
    check,
  });
}
