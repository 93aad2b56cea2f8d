// Fuzz target: FUSE requests from a hostile driver (chain_fuzzer.ts makes the chains and checks the device) to a
// virtio-fs device over a real temporary directory (share_fixture.ts). The request slot holds one request
// (fuse_requests.ts: INIT first most of the time, then opcodes the server serves with hostile fields, a few it
// does not, a len that sometimes lies), then a few random mutations. Each device, a new one every few thousand
// requests, has other shared-dir options. Besides the chain checks: everything beside the share must be exactly
// as it was, and once the last device is reset no descriptor the server opened may be left open.
import { logger } from "../../src/base/log.ts";
import type { ChainBuffers } from "../../src/devices/virtio/descriptor_chain.ts";
import { type CacheMode, FsContext } from "../../src/devices/virtio/fs/context.ts";
import { VirtioFs } from "../../src/devices/virtio/fs/device.ts";
import { IdMap } from "../../src/devices/virtio/fs/id_map.ts";
import { HandleTable } from "../../src/devices/virtio/fs/inodes.ts";
import { ENTRY_OUT_SIZE, IN_HEADER, OP, OUT_HEADER } from "../../src/devices/virtio/fs/layout.ts";
import { DATA_BASE, FakeDriverQueue, FakeInterrupt } from "../../src/devices/virtio/testing.ts";
import { type ChainShape, MEM_SIZE, QUEUE_SIZE, runChainFuzz, SLOT_SIZE } from "../chain_fuzzer.ts";
import { openDescriptors } from "../descriptor_count.ts";
import { type FuzzReport, mutate, type Rng } from "../random.ts";
import { ShareFixture } from "../share_fixture.ts";
import { boundHostAllocation, pickOpcode, writeRequest } from "./fuse_requests.ts";
import { FuseSession } from "./fuse_session.ts";

/** How a failed request's error may begin: guest mistakes, never a bug in our code. */
const EXPECTED_FAILURES: readonly string[] = [];
/** The request queue (queue 0 is the hiprio queue; both go to the same server). */
const REQUEST_QUEUE = 1;
const CACHE_MODES: readonly CacheMode[] = ["never", "auto", "always"];

/** The length of the request prepare() last put in the first buffer: a plausible one is exactly that long. */
let firstBufferLength = IN_HEADER.size;

const SHAPE: ChainShape = {
  interestingLengths: [
    0,
    1,
    OUT_HEADER.size - 1,
    OUT_HEADER.size,
    IN_HEADER.size - 1,
    IN_HEADER.size,
    OUT_HEADER.size + ENTRY_OUT_SIZE,
    4096,
  ],
  dataSectors: 16,
  maxIndirect: 6,
  maxDirect: 4,
  writableChance: 0.3,
  plausibleLength: (rng, i, _n, anyLength) => (i === 0 && rng.chance(0.9) ? firstBufferLength : anyLength()),
};

const OP_NAMES: Readonly<Record<number, string>> = Object.fromEntries(
  Object.entries(OP).map(([name, op]) => [op, name]),
);

/** The first `n` bytes of `chain`'s device-readable (or device-writable) buffers; zeros past what they hold. */
function leadingBytes(chain: ChainBuffers, writable: boolean, n: number): DataView {
  const out = new Uint8Array(n);
  let done = 0;
  for (let i = 0; i < chain.count && done < n; i++) {
    if ((chain.writable[i] === 1) !== writable) continue;
    const take = Math.min(chain.len[i]!, n - done);
    out.set(chain.mem.read(chain.addr[i]!, take), done);
    done += take;
  }
  return new DataView(out.buffer);
}

/** The device, counting the replies it writes: `ok:OPCODE` per success, `errorReplies` for the rest. */
class CountingFs extends VirtioFs {
  constructor(
    ctx: FsContext,
    readonly replies: Record<string, number>,
  ) {
    super("fuzz", ctx);
  }

  protected override handleRequest(chain: ChainBuffers): number {
    // Read first: a reply may land on the request's own bytes (a hostile chain's buffers may overlap).
    const opcode = leadingBytes(chain, false, IN_HEADER.size).getUint32(IN_HEADER.at.opcode, true);
    const written = super.handleRequest(chain);
    // Less than a reply header: no reply (FORGET, a request too short, no room for one).
    if (written >= OUT_HEADER.size) {
      const error = leadingBytes(chain, true, OUT_HEADER.size).getInt32(OUT_HEADER.at.error, true);
      const key = error === 0 ? `ok:${OP_NAMES[opcode]}` : "errorReplies";
      this.replies[key] = (this.replies[key] ?? 0) + 1;
    }
    return written;
  }
}

class Driver {
  readonly drv = new FakeDriverQueue(QUEUE_SIZE, undefined, MEM_SIZE);
  readonly dev: CountingFs;
  readonly session: FuseSession;

  constructor(
    readonly ctx: FsContext,
    replies: Record<string, number>,
  ) {
    this.dev = new CountingFs(ctx, replies);
    this.session = new FuseSession(ctx);
    this.dev.activate(this.drv.mem, new FakeInterrupt(), new Map([[REQUEST_QUEUE, this.drv.activate()]]));
  }

  queueNotify(queue: number): void {
    this.dev.queueNotify(queue);
  }
}

/** A server context over the share with random shared-dir options. */
function newContext(rng: Rng, fixture: ShareFixture): FsContext {
  const config = {
    cache: rng.pick(CACHE_MODES),
    timeout: rng.int(10),
    writeback: rng.chance(0.5),
    posixAcl: rng.chance(0.5),
    rewriteSecurityXattrs: rng.chance(0.5),
    asciiCasefold: rng.chance(0.3),
    uidMap: new IdMap(undefined),
    gidMap: new IdMap(undefined),
  };
  return new FsContext(config, fixture.shareFd, new HandleTable(), fixture.procFd);
}

const msg = new Uint8Array(SLOT_SIZE);

/** Slot 0: one request; slot 1: its rest, for a chain whose first buffer holds only part of it. */
function fillSlots(rng: Rng, d: Driver, stats: Record<string, number>): void {
  d.session.learn();
  const length = writeRequest(rng, msg, pickOpcode(rng, d.ctx.initialized), d.session);
  if (rng.chance(0.15)) {
    stats.mutated = (stats.mutated ?? 0) + 1;
    mutate(rng, msg, rng.int(4) + 1, 0, length);
  }
  boundHostAllocation(msg);
  firstBufferLength = rng.chance(0.8) ? length : rng.int(length + 1);
  d.drv.mem.write(DATA_BASE, msg.subarray(0, length));
  d.drv.mem.write(DATA_BASE + SLOT_SIZE, msg.subarray(firstBufferLength, length));
}

export function fuzzFuseMessages(iterations: number, seed: number): FuzzReport {
  const fixture = new ShareFixture("fuse-fuzz-");
  const descriptorsBefore = openDescriptors();
  const counts: Record<string, number> & { nodesLearnt: number; handlesLearnt: number } = {
    nodesLearnt: 0,
    handlesLearnt: 0,
  };
  let driver: Driver | undefined;
  /** Resets the device (the server closes every node and handle) and keeps what its session learnt. */
  const retire = () => {
    if (!driver) return;
    driver.dev.reset();
    counts.nodesLearnt += driver.session.nodesLearnt;
    counts.handlesLearnt += driver.session.handlesLearnt;
    driver = undefined;
  };
  try {
    const report = runChainFuzz({
      target: "fuse_message",
      seed,
      iterations,
      log: logger("devices::virtio::fs"),
      expectedFailures: EXPECTED_FAILURES,
      shape: SHAPE,
      queue: REQUEST_QUEUE,
      newDevice: (rng) => {
        retire();
        driver = new Driver(newContext(rng, fixture), counts);
        return driver;
      },
      prepare: fillSlots,
    });
    // Evidence that requests got past the session checks: names made in the share.
    counts.namesInShare = fixture.namesInShare();
    retire();
    const changed = fixture.changesBeside();
    if (changed.length > 0) report.failures.push(`entries beside the share changed: ${changed.join(", ")}`);
    const leaked = openDescriptors() - descriptorsBefore;
    if (leaked > 0) report.failures.push(`${leaked} descriptors left open after the device's reset`);
    Object.assign(report.stats, counts);
    return report;
  } finally {
    retire();
    fixture.remove();
  }
}
