// Fuzz target: virtio-balloon's queues from a hostile driver (chain_fuzzer.ts makes the chains and checks the
// device), over guest RAM with an MMIO hole (guest_ram.ts). Inflate and deflate chains carry le32 page frames in
// and around RAM, in the hole, past its end, repeated, with lengths that are not whole frames and arrays past
// MAX_PFNS_PER_CHAIN; stats chains carry known and unknown tags with lengths that are not whole entries, and come
// whether or not the host asked; reporting chains name ranges in, across and outside RAM. Between chains the
// driver writes `actual` and the host adjusts the target and asks for statistics. Besides the chains,
// balloon_checks.ts checks that the host is asked to take back only RAM the guest offered, and that no size the
// device reports is more than RAM. Devices cycle through page reporting on / off and the features accepted.
import { FIRST_ADDR_PAST_32BITS } from "../../src/arch/x86_64/layout.ts";
import { logger } from "../../src/base/log.ts";
import {
  BALLOON_PAGE_SIZE,
  CONFIG_ACTUAL,
  CONFIG_SIZE,
  STAT_ENTRY_SIZE,
  VIRTIO_BALLOON_F_PAGE_REPORTING,
  VIRTIO_BALLOON_F_STATS_VQ,
} from "../../src/devices/virtio/balloon/constants.ts";
import {
  BalloonEvent,
  BalloonRequest,
  BalloonStatsReply,
  decodeActualEvent,
  decodeReport,
  encodeAdjust,
} from "../../src/devices/virtio/balloon/control.ts";
import { VirtioBalloon } from "../../src/devices/virtio/balloon/device.ts";
import { MAX_PFNS_PER_CHAIN, type MemfdRange } from "../../src/devices/virtio/balloon/pfn.ts";
import { BALLOON_STAT_TAGS, MAX_STATS_BYTES } from "../../src/devices/virtio/balloon/stats.ts";
import { featureBit } from "../../src/devices/virtio/constants.ts";
import { DATA_BASE, type FakeDriverQueue, FakeInterrupt } from "../../src/devices/virtio/testing.ts";
import { type BalloonQueueRole, offeredRanges, releaseFinding, sizeFinding } from "../balloon_checks.ts";
import { type ChainShape, MEM_SIZE, runChainFuzz, SLOT_SIZE } from "../chain_fuzzer.ts";
import { DriverSides } from "../driver_sides.ts";
import { BALLOON_EXPECTED_FAILURES } from "../expected_failures.ts";
import { HIGH_RAM_SIZE, RAM_EDGES, ramAroundHole } from "../guest_ram.ts";
import { type FuzzReport, type Rng, tally } from "../random.ts";

/** How a failed request's error may begin: an inflate or deflate chain with too many frames is refused. */
const MAX_FRAME_BYTES = 4 * MAX_PFNS_PER_CHAIN;
const pages = (bytes: number) => bytes / BALLOON_PAGE_SIZE;
/** The first and last frames of each RAM region and the ones just outside. */
const EDGE_FRAMES = RAM_EDGES.flatMap((a) => [pages(a) - 1, pages(a)]).filter((f) => f >= 0);
const KNOWN_TAGS = Object.values(BALLOON_STAT_TAGS);
/** How often each role's queue gets the next chain (when the driver accepted the features it needs). */
const WEIGHTS: readonly BalloonQueueRole[] = [
  "inflate",
  "inflate",
  "inflate",
  "deflate",
  "deflate",
  "stats",
  "stats",
  "reporting",
  "reporting",
];

/** Inflate and deflate: one readable array of frames, mostly. */
const FRAMES: ChainShape = {
  interestingLengths: [0, 1, 3, 4, 5, 1024, MAX_FRAME_BYTES - 4, MAX_FRAME_BYTES, MAX_FRAME_BYTES + 1],
  dataSectors: 8,
  maxIndirect: 8,
  maxDirect: 4,
  writableChance: 0.05,
  lastWritableChance: 0.05,
  otherAddresses: RAM_EDGES,
  plausibleLength: (rng, i, _n, anyLength) =>
    i === 0 && rng.chance(0.8) ? 4 * rng.int(300) + (rng.chance(0.1) ? 1 + rng.int(3) : 0) : anyLength(),
};

/** Stats: one readable buffer of tag/value entries. */
const STATS: ChainShape = {
  interestingLengths: [0, 1, STAT_ENTRY_SIZE - 1, STAT_ENTRY_SIZE + 1, MAX_STATS_BYTES, MAX_STATS_BYTES + 1],
  dataSectors: 2,
  maxIndirect: 4,
  maxDirect: 3,
  writableChance: 0.05,
  lastWritableChance: 0.05,
  plausibleLength: (rng, i, _n, anyLength) =>
    i === 0 && rng.chance(0.8)
      ? STAT_ENTRY_SIZE * rng.int(20) + (rng.chance(0.2) ? 1 + rng.int(9) : 0)
      : anyLength(),
};

/** Free page reporting: device-writable buffers, each a free range of RAM. */
const REPORTING: ChainShape = {
  interestingLengths: [0, 1, BALLOON_PAGE_SIZE - 1, BALLOON_PAGE_SIZE, HIGH_RAM_SIZE, MEM_SIZE, 2 * MEM_SIZE],
  dataSectors: 16,
  maxIndirect: 8,
  maxDirect: 4,
  writableChance: 0.9,
  otherAddresses: RAM_EDGES,
  plausibleLength: (rng, _i, _n, anyLength) =>
    rng.chance(0.8) ? BALLOON_PAGE_SIZE * (1 + rng.int(32)) : anyLength(),
};

const SHAPES: Readonly<Record<BalloonQueueRole, ChainShape>> = {
  inflate: FRAMES,
  deflate: FRAMES,
  stats: STATS,
  reporting: REPORTING,
};

class Driver {
  readonly mem = ramAroundHole();
  readonly interrupt = new FakeInterrupt();
  readonly dev: VirtioBalloon;
  /** Each queue's role, by index (Linux numbers the queues of the accepted features without gaps). */
  readonly roles: BalloonQueueRole[] = ["inflate", "deflate"];
  readonly picks: BalloonQueueRole[];
  readonly sides: DriverSides;
  readonly drivers: ReadonlyMap<number, FakeDriverQueue>;
  /** Ranges the device gave back since the last check. */
  released: MemfdRange[] = [];
  /** Findings of the requests made between chains, for the next check. */
  readonly findings: string[] = [];

  constructor(rng: Rng) {
    this.dev = new VirtioBalloon({
      pageReporting: rng.chance(0.7),
      initialPages: rng.int(pages(this.mem.size)),
      release: (mem, ranges) => {
        if (mem !== this.mem) this.findings.push("gave back ranges of another memory");
        this.released.push(...ranges);
      },
    });
    let features = this.dev.features();
    if (rng.chance(0.25)) features &= ~featureBit(VIRTIO_BALLOON_F_STATS_VQ);
    if (rng.chance(0.25)) features &= ~featureBit(VIRTIO_BALLOON_F_PAGE_REPORTING);
    this.dev.ackFeatures(features);
    const acked = this.dev.ackedFeatures;
    if (acked & featureBit(VIRTIO_BALLOON_F_STATS_VQ)) this.roles.push("stats");
    if (acked & featureBit(VIRTIO_BALLOON_F_PAGE_REPORTING)) this.roles.push("reporting");
    this.picks = WEIGHTS.filter((r) => this.roles.includes(r));
    this.sides = new DriverSides(
      this.mem,
      this.roles.map((_, i) => i),
    );
    this.drivers = this.sides.drivers;
    this.dev.activate(this.mem, this.interrupt, this.sides.activate());
  }

  queueNotify(queue: number): void {
    this.dev.queueNotify(queue);
  }

  note(finding: string | undefined): void {
    if (finding) this.findings.push(finding);
  }
}

function frame(rng: Rng): number {
  switch (rng.int(6)) {
    case 0:
      return rng.int(pages(MEM_SIZE));
    case 1:
      return pages(FIRST_ADDR_PAST_32BITS) + rng.int(pages(HIGH_RAM_SIZE));
    case 2:
      return rng.pick(EDGE_FRAMES);
    case 3:
      return pages(MEM_SIZE) + rng.int(pages(FIRST_ADDR_PAST_32BITS - MEM_SIZE));
    default:
      return rng.u32();
  }
}

/** Slot 0: an array of frames, some repeated. */
function fillFrames(rng: Rng, d: Driver): void {
  const n = rng.chance(0.9) ? rng.int(64) : rng.int(SLOT_SIZE / 4);
  const bytes = new Uint8Array(4 * n);
  const view = new DataView(bytes.buffer);
  let last = 0;
  for (let i = 0; i < n; i++) {
    if (i === 0 || rng.chance(0.8)) last = frame(rng);
    view.setUint32(4 * i, last, true);
  }
  d.mem.write(DATA_BASE, bytes);
}

/** Slot 0: statistics, known tags and unknown ones, more than the device reads at times. */
function fillStats(rng: Rng, d: Driver): void {
  const bytes = new Uint8Array(STAT_ENTRY_SIZE * rng.int(MAX_STATS_BYTES / STAT_ENTRY_SIZE + 8));
  const view = new DataView(bytes.buffer);
  for (let at = 0; at < bytes.length; at += STAT_ENTRY_SIZE) {
    view.setUint16(at, rng.chance(0.7) ? rng.pick(KNOWN_TAGS) : rng.int(0x10000), true);
    view.setBigUint64(at + 2, BigInt.asUintN(64, rng.u64()), true);
  }
  d.mem.write(DATA_BASE, bytes);
}

/** Between chains: the driver writes `actual` (or bytes around it), the host adjusts or asks for statistics. */
function poke(rng: Rng, d: Driver, stats: Record<string, number>): void {
  const ramPages = pages(d.mem.size);
  if (rng.chance(0.03)) {
    tally(stats, "actualWrites");
    const value = new Uint8Array(4);
    const candidates = [0, ramPages, ramPages + 1, rng.int(ramPages), rng.u32()];
    new DataView(value.buffer).setUint32(0, rng.pick(candidates), true);
    const offset = rng.chance(0.8) ? CONFIG_ACTUAL : rng.int(CONFIG_SIZE + 4);
    d.dev.writeConfig(offset, value.subarray(0, rng.chance(0.8) ? 4 : 1 + rng.int(4)));
  }
  if (rng.chance(0.01)) d.dev.controlRequest(encodeAdjust(rng.int(ramPages + 1)));
  if (rng.chance(0.03)) {
    tally(stats, "statsRequests");
    const reply = d.dev.controlRequest(Uint8Array.of(BalloonRequest.Stats));
    if (reply[0] === BalloonStatsReply.Now)
      d.note(sizeFinding(d.mem, decodeReport(reply).actualPages, "a stats answer"));
  }
}

/** The sizes in the events the device sent since the last check. */
function eventsFinding(d: Driver, stats: Record<string, number>): string | undefined {
  for (const e of d.interrupt.deviceEvents.splice(0)) {
    if (e[0] === BalloonEvent.Actual) d.note(sizeFinding(d.mem, decodeActualEvent(e), "an actual event"));
    else if (e[0] === BalloonEvent.Stats) {
      tally(stats, "statsAnswered");
      d.note(sizeFinding(d.mem, decodeReport(e).actualPages, "a stats event"));
    }
  }
  return d.findings.shift();
}

function check(d: Driver, queue: number, stats: Record<string, number>): string | undefined {
  const role = d.roles[queue]!;
  const chains = d.sides.take(queue).popped;
  const released = d.released;
  d.released = [];
  const bytes = released.reduce((n, r) => n + r.length, 0);
  const key = role === "reporting" ? "reportedBytesGivenBack" : "framesGivenBack";
  tally(stats, key, role === "reporting" ? bytes : pages(bytes));
  const frames = role === "inflate" || role === "deflate";
  if (frames && chains.some((c) => c.readable.length > MAX_FRAME_BYTES)) tally(stats, "tooManyFrames");
  const offered = offeredRanges(role, chains);
  const outside = offered.filter((r) => !d.mem.isValidRange(r.addr, r.len)).length;
  tally(stats, "offeredOutsideRam", outside);
  return (
    releaseFinding(d.mem, released, offered, role === "inflate") ??
    eventsFinding(d, stats) ??
    sizeFinding(d.mem, d.dev.actualPages, "actualPages")
  );
}

export function fuzzBalloonQueues(iterations: number, seed: number): FuzzReport {
  return runChainFuzz({
    target: "balloon_queues",
    seed,
    iterations,
    log: logger("devices::virtio::balloon"),
    expectedFailures: BALLOON_EXPECTED_FAILURES,
    shape: (d: Driver, queue) => SHAPES[d.roles[queue]!],
    queue: (rng, d) => d.roles.indexOf(rng.pick(d.picks)),
    newDevice: (rng) => new Driver(rng),
    prepare: (rng, d, stats, queue) => {
      poke(rng, d, stats);
      const role = d.roles[queue];
      if (role === "inflate" || role === "deflate") fillFrames(rng, d);
      else if (role === "stats") fillStats(rng, d);
    },
    held: (d, queue) => (d.roles[queue] === "stats" ? 1 : 0),
    check,
  });
}
