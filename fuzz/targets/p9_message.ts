// Fuzz target: 9P2000.L messages from a hostile driver (chain_fuzzer.ts makes the chains and checks the device)
// to a virtio-9p device over a real temporary directory. The request slot holds one message of a known type
// (sometimes a random one) with fields biased towards the fids a session holds, names such as "..", "x/y", a
// NUL inside or past NAME_MAX, offsets and counts around msize and past 2^53, and a size field that sometimes
// lies; then a few random mutations. Besides the chain checks, the directory beside the share must be exactly as
// it was: nothing the guest sends reaches it.
import { logger } from "../../src/base/log.ts";
import { HostFs } from "../../src/devices/virtio/fs/host_fs.ts";
import { IdMap } from "../../src/devices/virtio/fs/id_map.ts";
import { VirtioP9 } from "../../src/devices/virtio/p9/device.ts";
import { HEADER_SIZE, MSG, NOFID } from "../../src/devices/virtio/p9/protocol.ts";
import { DATA_BASE, FakeDriverQueue, FakeInterrupt } from "../../src/devices/virtio/testing.ts";
import { type ChainShape, MEM_SIZE, QUEUE_SIZE, runChainFuzz, SLOT_SIZE } from "../chain_fuzzer.ts";
import { FieldWriter } from "../field_writer.ts";
import { count, mode, name, offset } from "../file_server_fields.ts";
import { type FuzzReport, mutate, type Rng } from "../random.ts";
import { ShareFixture } from "../share_fixture.ts";

/** How a failed request's error may begin: guest mistakes, never a bug in our code. */
const EXPECTED_FAILURES = ["descriptor chain too short", "guest memory range"];

/** The length of the message prepare() last wrote: a plausible first descriptor is exactly that long. */
let messageLength = HEADER_SIZE;

const SHAPE: ChainShape = {
  interestingLengths: [0, 1, 6, 7, 8, 11, 12, 23, 24, 4096],
  dataSectors: 16,
  maxIndirect: 6,
  maxDirect: 4,
  writableChance: 0.3,
  plausibleLength: (rng, i, _n, anyLength) => (i === 0 && rng.chance(0.9) ? messageLength : anyLength()),
};

const TYPES = [
  MSG.TVERSION,
  MSG.TATTACH,
  MSG.TWALK,
  MSG.TWALK,
  MSG.TWALK,
  MSG.TCLUNK,
  MSG.TLOPEN,
  MSG.TLCREATE,
  MSG.TREAD,
  MSG.TWRITE,
  MSG.TGETATTR,
  MSG.TSETATTR,
  MSG.TREADDIR,
  MSG.TMKDIR,
  MSG.TSYMLINK,
  MSG.TMKNOD,
  MSG.TLINK,
  MSG.TRENAMEAT,
  MSG.TRENAME,
  MSG.TUNLINKAT,
  MSG.TREMOVE,
  MSG.TREADLINK,
  MSG.TSTATFS,
  MSG.TFSYNC,
  MSG.TLOCK,
  MSG.TGETLOCK,
  MSG.TXATTRWALK,
  MSG.TFLUSH,
];
const enc = new TextEncoder();

/** A 9P string: its u16 length, then its bytes. */
function str(w: FieldWriter, s: Uint8Array): void {
  w.u16(s.length);
  w.bytes(s);
}

const fid = (rng: Rng) => (rng.chance(0.9) ? rng.int(8) : rng.chance(0.5) ? NOFID : rng.u32());

function fields(rng: Rng, type: number, w: FieldWriter): void {
  switch (type) {
    case MSG.TVERSION:
      w.u32(rng.pick([4096, 8192, 65536 + 11, 1 << 20, rng.u32()]));
      str(w, enc.encode(rng.pick(["9P2000.L", "9P2000.L", "9P2000", "9P2000.L.google", ""])));
      return;
    case MSG.TATTACH:
      w.u32(fid(rng));
      w.u32(NOFID);
      str(w, name(rng));
      str(w, name(rng));
      w.u32(rng.chance(0.8) ? 0 : rng.u32());
      return;
    case MSG.TWALK: {
      w.u32(fid(rng));
      w.u32(fid(rng));
      const n = rng.chance(0.9) ? rng.int(4) : rng.pick([16, 17, 0xffff]);
      w.u16(n);
      for (let i = 0; i < Math.min(n, 20); i++) str(w, name(rng));
      return;
    }
    case MSG.TLOPEN:
    case MSG.TFSYNC:
      w.u32(fid(rng));
      w.u32(rng.chance(0.8) ? rng.pick([0, 1, 2, 0o1002, 0o200000, 3]) : rng.u32());
      return;
    case MSG.TLCREATE:
      w.u32(fid(rng));
      str(w, name(rng));
      w.u32(rng.chance(0.8) ? rng.pick([2, 0o302, 0o1101]) : rng.u32());
      w.u32(mode(rng));
      w.u32(rng.u32());
      return;
    case MSG.TREAD:
    case MSG.TREADDIR:
      w.u32(fid(rng));
      w.u64(offset(rng));
      w.u32(count(rng));
      return;
    case MSG.TWRITE: {
      w.u32(fid(rng));
      w.u64(offset(rng));
      const n = count(rng);
      w.u32(n);
      w.at += Math.min(n, SLOT_SIZE);
      return;
    }
    case MSG.TGETATTR:
      w.u32(fid(rng));
      w.u64(rng.u64());
      return;
    case MSG.TSETATTR:
      w.u32(fid(rng));
      w.u32(rng.chance(0.7) ? rng.int(0x200) : rng.u32());
      w.u32(mode(rng));
      w.u32(rng.u32());
      w.u32(rng.u32());
      w.u64(offset(rng));
      for (let i = 0; i < 4; i++) w.u64(rng.chance(0.5) ? rng.int(2 ** 31) : rng.u64());
      return;
    case MSG.TMKDIR:
      w.u32(fid(rng));
      str(w, name(rng));
      w.u32(mode(rng));
      w.u32(rng.u32());
      return;
    case MSG.TSYMLINK:
      w.u32(fid(rng));
      str(w, name(rng));
      str(w, rng.chance(0.5) ? enc.encode("../../outside/secret") : name(rng));
      w.u32(rng.u32());
      return;
    case MSG.TMKNOD:
      w.u32(fid(rng));
      str(w, name(rng));
      w.u32(mode(rng));
      w.u32(rng.u32());
      w.u32(rng.u32());
      w.u32(rng.u32());
      return;
    case MSG.TLINK:
    case MSG.TRENAME:
      w.u32(fid(rng));
      w.u32(fid(rng));
      str(w, name(rng));
      return;
    case MSG.TRENAMEAT:
      w.u32(fid(rng));
      str(w, name(rng));
      w.u32(fid(rng));
      str(w, name(rng));
      return;
    case MSG.TUNLINKAT:
      w.u32(fid(rng));
      str(w, name(rng));
      w.u32(rng.chance(0.8) ? rng.pick([0, 0x200]) : rng.u32());
      return;
    case MSG.TLOCK:
    case MSG.TGETLOCK:
      w.u32(fid(rng));
      w.u8(rng.int(3));
      if (type === MSG.TLOCK) w.u32(rng.u32());
      w.u64(offset(rng));
      w.u64(offset(rng));
      w.u32(rng.u32());
      str(w, name(rng));
      return;
    case MSG.TXATTRWALK:
      w.u32(fid(rng));
      w.u32(fid(rng));
      str(w, name(rng));
      return;
    case MSG.TFLUSH:
      w.u16(rng.int(0x10000));
      return;
    default:
      w.u32(fid(rng));
  }
}

const msg = new Uint8Array(SLOT_SIZE);

/** Slot 0: one message (and, for Twrite, its data right after it or in slot 1). */
function fillMessage(rng: Rng, d: Driver, stats: Record<string, number>): void {
  msg.fill(0);
  const type = rng.chance(0.95) ? rng.pick(TYPES) : rng.int(256);
  const w = new FieldWriter(msg, HEADER_SIZE);
  fields(rng, type, w);
  const length = Math.min(w.at, SLOT_SIZE);
  const view = new DataView(msg.buffer);
  view.setUint32(0, rng.chance(0.9) ? w.at : rng.chance(0.5) ? rng.u32() : w.at + rng.int(64) - 32, true);
  view.setUint8(4, type);
  view.setUint16(5, rng.int(0x10000), true);
  if (rng.chance(0.15)) {
    stats.mutated = (stats.mutated ?? 0) + 1;
    mutate(rng, msg, rng.int(4) + 1, 0, length);
  }
  messageLength = rng.chance(0.5) ? length : Math.min(length, 23);
  d.drv.mem.write(DATA_BASE, msg.subarray(0, length));
}

class Driver {
  readonly drv = new FakeDriverQueue(QUEUE_SIZE, undefined, MEM_SIZE);
  readonly dev: VirtioP9;

  constructor(fs: HostFs) {
    this.dev = new VirtioP9("fuzz", fs);
    this.dev.activate(this.drv.mem, new FakeInterrupt(), new Map([[0, this.drv.activate()]]));
  }

  queueNotify(queue: number): void {
    this.dev.queueNotify(queue);
  }
}

export function fuzzP9Messages(iterations: number, seed: number): FuzzReport {
  const fixture = new ShareFixture("p9-fuzz-");
  const fs = new HostFs(
    { asciiCasefold: false, uidMap: new IdMap(undefined), gidMap: new IdMap(undefined) },
    fixture.shareFd,
    fixture.procFd,
  );
  let driver: Driver | undefined;
  try {
    const report = runChainFuzz({
      target: "p9_message",
      seed,
      iterations,
      log: logger("devices::virtio::p9"),
      expectedFailures: EXPECTED_FAILURES,
      shape: SHAPE,
      queue: 0,
      newDevice: () => {
        driver?.dev.server.reset();
        driver = new Driver(fs);
        return driver;
      },
      prepare: (rng, d, stats) => fillMessage(rng, d, stats),
    });
    const changed = fixture.changesBeside();
    if (changed.length > 0) report.failures.push(`entries beside the share changed: ${changed.join(", ")}`);
    // Evidence that messages got past the session checks: names made in the share, fids held at the end.
    report.stats.namesInShare = fixture.namesInShare();
    report.stats.fidsHeld = driver?.dev.server.fids.size ?? 0;
    return report;
  } finally {
    driver?.dev.server.reset();
    fixture.remove();
  }
}
