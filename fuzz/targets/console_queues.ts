// Fuzz target: virtio-console's queues from a hostile driver (chain_fuzzer.ts makes the chains and checks the
// device). The device has one port and no VIRTIO_CONSOLE_F_MULTIPORT, so it has no control queue to fuzz: the
// chains go to the transmitq (guest output) and the receiveq (buffers for host input). Besides the chain checks,
// the host sink gets exactly the readable bytes of each good transmit chain, in order (across the device's
// CONSOLE_OUTPUT_CHUNK copies too), and nothing of a refused one; each good receive chain gets the next host
// input bytes, as many as fit, and a refused one none.
import { logger } from "../../src/base/log.ts";
import {
  CONSOLE_OUTPUT_CHUNK,
  CONSOLE_RECEIVEQ,
  CONSOLE_TRANSMITQ,
  VirtioConsole,
} from "../../src/devices/virtio/console.ts";
import { DATA_BASE, FakeInterrupt } from "../../src/devices/virtio/testing.ts";
import { GuestMemory } from "../../src/vm_memory/guest_memory.ts";
import { bytesFinding } from "../bytes.ts";
import { type ChainShape, MEM_SIZE, runChainFuzz, SLOT_SIZE, SLOTS } from "../chain_fuzzer.ts";
import { DriverSides } from "../driver_sides.ts";
import { bytesOf, canReadBack, type SeenChain, type UsedEntry, writableOf } from "../queue_recorder.ts";
import { lengthOf } from "../ranges.ts";
import { type FuzzReport, mutate, type Rng, tally } from "../random.ts";

/** Host input kept pending at most: far below CONSOLE_INPUT_LIMIT, so none is dropped. */
const MAX_PENDING_INPUT = 8192;

/** Output: readable buffers, some longer than the device's copy chunk. */
const TRANSMIT: ChainShape = {
  interestingLengths: [0, 1, CONSOLE_OUTPUT_CHUNK - 1, CONSOLE_OUTPUT_CHUNK, CONSOLE_OUTPUT_CHUNK + 1],
  dataSectors: 8,
  maxIndirect: 8,
  maxDirect: 4,
  writableChance: 0.05,
  lastWritableChance: 0.05,
  plausibleLength: (rng, _i, _n, anyLength) => (rng.chance(0.7) ? 1 + rng.int(512) : anyLength()),
};

/** Receive buffers: device-writable. */
const RECEIVE: ChainShape = {
  interestingLengths: [0, 1, 2, MAX_PENDING_INPUT],
  dataSectors: 4,
  maxIndirect: 8,
  maxDirect: 4,
  writableChance: 0.9,
  plausibleLength: (rng, _i, _n, anyLength) => (rng.chance(0.7) ? 1 + rng.int(2048) : anyLength()),
};

class Driver {
  readonly mem = GuestMemory.anonymous([{ guestAddr: 0, size: MEM_SIZE }]);
  readonly sides = new DriverSides(this.mem, [CONSOLE_RECEIVEQ, CONSOLE_TRANSMITQ]);
  readonly drivers = this.sides.drivers;
  /** What the host sink got since the last check. */
  output: Uint8Array[] = [];
  /** Host input not yet in a receive buffer, as the device should have it. */
  input: Uint8Array = new Uint8Array(0);
  readonly dev = new VirtioConsole({ write: (bytes) => this.output.push(bytes.slice()) });

  constructor(rng: Rng) {
    this.mem.write(DATA_BASE, rng.bytes(SLOTS * SLOT_SIZE));
    this.dev.activate(this.mem, new FakeInterrupt(), this.sides.activate());
  }

  queueNotify(queue: number): void {
    this.dev.queueNotify(queue);
  }
}

/** Before a receive chain: host input, so that the device has something for it. */
function pushInput(rng: Rng, d: Driver): void {
  if (d.input.length >= MAX_PENDING_INPUT || (d.input.length > 0 && rng.chance(0.8))) return;
  const bytes = rng.bytes(1 + rng.int(3000));
  d.dev.pushInput(bytes);
  d.input = Buffer.concat([d.input, bytes]);
}

function receiveFinding(
  d: Driver,
  output: Uint8Array,
  pairs: readonly [SeenChain, UsedEntry][],
  stats: Record<string, number>,
): string | undefined {
  if (output.length > 0) return `receiveq: ${output.length} bytes reached the host`;
  for (const [c, used] of pairs) {
    const writable = writableOf(c);
    const n = c.error ? 0 : Math.min(lengthOf(writable), d.input.length);
    if (used.len !== n) return `receiveq: chain ${c.head} used with ${used.len} bytes, expected ${n}`;
    if (n > 0 && canReadBack(writable)) {
      tally(stats, "receivedChecked");
      const wrong = bytesFinding(
        "receiveq: the guest got",
        bytesOf(d.mem, writable, n),
        d.input.subarray(0, n),
      );
      if (wrong) return wrong;
    }
    d.input = d.input.subarray(n);
  }
  return d.dev.pendingInput === d.input.length
    ? undefined
    : `receiveq: ${d.dev.pendingInput} input bytes pending, expected ${d.input.length}`;
}

function check(d: Driver, queue: number, stats: Record<string, number>): string | undefined {
  const { pairs, finding } = d.sides.poppedAndUsed(queue);
  if (finding) return finding;
  const output = Buffer.concat(d.output.splice(0));
  if (queue === CONSOLE_RECEIVEQ) return receiveFinding(d, output, pairs, stats);
  if (output.length > CONSOLE_OUTPUT_CHUNK) tally(stats, "chunkedOutput");
  tally(stats, "outputBytes", output.length);
  return bytesFinding("transmitq: the host got", output, Buffer.concat(pairs.map(([c]) => c.readable)));
}

export function fuzzConsoleQueues(iterations: number, seed: number): FuzzReport {
  return runChainFuzz({
    target: "console_queues",
    seed,
    iterations,
    log: logger("devices::virtio::console"),
    expectedFailures: [],
    shape: (_d, queue) => (queue === CONSOLE_TRANSMITQ ? TRANSMIT : RECEIVE),
    queue: (rng) => (rng.chance(0.6) ? CONSOLE_TRANSMITQ : CONSOLE_RECEIVEQ),
    newDevice: (rng) => new Driver(rng),
    prepare: (rng, d, _stats, queue) => {
      if (queue === CONSOLE_RECEIVEQ) pushInput(rng, d);
      else mutate(rng, d.mem.slice(DATA_BASE, 2 * SLOT_SIZE), 8);
    },
    check,
  });
}
