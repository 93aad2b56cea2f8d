// Fuzz target: 9P2000.L messages from a hostile driver (chain_fuzzer.ts makes the chains and checks the device)
// to a virtio-9p device over a real temporary directory. The request slot holds one message of a known type
// (sometimes a random one) with fields biased towards the fids a session holds, names such as "..", "x/y", a
// NUL inside or past NAME_MAX, offsets and counts around msize and past 2^53, and a size field that sometimes
// lies; then a few random mutations. Besides the chain checks, the directory beside the share must be exactly as
// it was: nothing the guest sends reaches it.
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { O_DIRECTORY, O_PATH } from "../../ffi/fs_calls.ts";
import { O_CLOEXEC, open } from "../../ffi/libc.ts";
import { logger } from "../../src/base/log.ts";
import { HostFs } from "../../src/devices/virtio/fs/host_fs.ts";
import { IdMap } from "../../src/devices/virtio/fs/id_map.ts";
import { VirtioP9 } from "../../src/devices/virtio/p9/device.ts";
import { MSG, NOFID } from "../../src/devices/virtio/p9/protocol.ts";
import { DATA_BASE, FakeDriverQueue, FakeInterrupt } from "../../src/devices/virtio/testing.ts";
import { type ChainShape, MEM_SIZE, QUEUE_SIZE, runChainFuzz, SLOT_SIZE } from "../chain_fuzzer.ts";
import { type FuzzReport, mutate, type Rng } from "../random.ts";

/** How a failed request's error may begin: guest mistakes, never a bug in our code. */
const EXPECTED_FAILURES = ["descriptor chain too short", "guest memory range"];
const SECRET = "host secret";

/** The length of the message prepare() last wrote: a plausible first descriptor is exactly that long. */
let messageLength = 7;

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
const NAMES = ["a", "b", "d", "f", "..", ".", "", "x/y", "../..", "a\0b", "n".repeat(300), "ü"].map((n) =>
  enc.encode(n),
);

/** Builds one message into `buf` field by field. */
class Writer {
  at = 7;
  constructor(readonly buf: Uint8Array) {}
  readonly #view = () => new DataView(this.buf.buffer, this.buf.byteOffset);
  u8(v: number): void {
    if (this.at + 1 <= this.buf.length) this.buf[this.at] = v;
    this.at += 1;
  }
  u16(v: number): void {
    if (this.at + 2 <= this.buf.length) this.#view().setUint16(this.at, v, true);
    this.at += 2;
  }
  u32(v: number): void {
    if (this.at + 4 <= this.buf.length) this.#view().setUint32(this.at, v >>> 0, true);
    this.at += 4;
  }
  u64(v: bigint | number): void {
    if (this.at + 8 <= this.buf.length)
      this.#view().setBigUint64(this.at, BigInt.asUintN(64, BigInt(v)), true);
    this.at += 8;
  }
  str(s: Uint8Array): void {
    this.u16(s.length);
    if (this.at + s.length <= this.buf.length) this.buf.set(s, this.at);
    this.at += s.length;
  }
}

const fid = (rng: Rng) => (rng.chance(0.9) ? rng.int(8) : rng.chance(0.5) ? NOFID : rng.u32());
const name = (rng: Rng) => rng.pick(NAMES);
const offset = (rng: Rng): bigint | number =>
  rng.chance(0.8) ? rng.int(1 << 20) : rng.chance(0.5) ? 2 ** 53 - rng.int(4) : rng.u64();
const count = (rng: Rng) =>
  rng.chance(0.8) ? rng.int(SLOT_SIZE * 2) : rng.pick([0, 4096 - 11, 65536, 1 << 20, rng.u32()]);
const mode = (rng: Rng) =>
  rng.chance(0.8) ? rng.pick([0o100644, 0o10644, 0o140755, 0o755, 0o600]) : rng.u32();

function fields(rng: Rng, type: number, w: Writer): void {
  switch (type) {
    case MSG.TVERSION:
      w.u32(rng.pick([4096, 8192, 65536 + 11, 1 << 20, rng.u32()]));
      w.str(enc.encode(rng.pick(["9P2000.L", "9P2000.L", "9P2000", "9P2000.L.google", ""])));
      return;
    case MSG.TATTACH:
      w.u32(fid(rng));
      w.u32(NOFID);
      w.str(name(rng));
      w.str(name(rng));
      w.u32(rng.chance(0.8) ? 0 : rng.u32());
      return;
    case MSG.TWALK: {
      w.u32(fid(rng));
      w.u32(fid(rng));
      const n = rng.chance(0.9) ? rng.int(4) : rng.pick([16, 17, 0xffff]);
      w.u16(n);
      for (let i = 0; i < Math.min(n, 20); i++) w.str(name(rng));
      return;
    }
    case MSG.TLOPEN:
    case MSG.TFSYNC:
      w.u32(fid(rng));
      w.u32(rng.chance(0.8) ? rng.pick([0, 1, 2, 0o1002, 0o200000, 3]) : rng.u32());
      return;
    case MSG.TLCREATE:
      w.u32(fid(rng));
      w.str(name(rng));
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
      w.str(name(rng));
      w.u32(mode(rng));
      w.u32(rng.u32());
      return;
    case MSG.TSYMLINK:
      w.u32(fid(rng));
      w.str(name(rng));
      w.str(rng.chance(0.5) ? enc.encode("../../outside/secret") : name(rng));
      w.u32(rng.u32());
      return;
    case MSG.TMKNOD:
      w.u32(fid(rng));
      w.str(name(rng));
      w.u32(mode(rng));
      w.u32(rng.u32());
      w.u32(rng.u32());
      w.u32(rng.u32());
      return;
    case MSG.TLINK:
    case MSG.TRENAME:
      w.u32(fid(rng));
      w.u32(fid(rng));
      w.str(name(rng));
      return;
    case MSG.TRENAMEAT:
      w.u32(fid(rng));
      w.str(name(rng));
      w.u32(fid(rng));
      w.str(name(rng));
      return;
    case MSG.TUNLINKAT:
      w.u32(fid(rng));
      w.str(name(rng));
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
      w.str(name(rng));
      return;
    case MSG.TXATTRWALK:
      w.u32(fid(rng));
      w.u32(fid(rng));
      w.str(name(rng));
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
  const w = new Writer(msg);
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
  const dir = mkdtempSync(join(tmpdir(), "p9-fuzz-"));
  const share = join(dir, "share");
  const outside = join(dir, "outside");
  mkdirSync(share);
  mkdirSync(outside);
  mkdirSync(join(share, "d"));
  writeFileSync(join(share, "f"), "file in the share");
  writeFileSync(join(outside, "secret"), SECRET);
  const fs = new HostFs(
    { asciiCasefold: false, uidMap: new IdMap(undefined), gidMap: new IdMap(undefined) },
    open(share, O_PATH | O_DIRECTORY | O_CLOEXEC),
    open("/proc/self/fd", O_PATH | O_DIRECTORY | O_CLOEXEC),
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
    const left = readdirSync(outside);
    if (left.length !== 1 || readFileSync(join(outside, "secret"), "utf8") !== SECRET)
      report.failures.push(`the directory beside the share changed: ${JSON.stringify(left)}`);
    // Evidence that messages got past the session checks: names made in the share, fids held at the end.
    report.stats.namesInShare = readdirSync(share).length;
    report.stats.fidsHeld = driver?.dev.server.fids.size ?? 0;
    return report;
  } finally {
    driver?.dev.server.reset();
    rmSync(dir, { recursive: true, force: true });
  }
}
