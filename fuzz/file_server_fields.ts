// Field values the file-server targets (9P, FUSE) draw from: names that are not one path component or are too
// long, and offsets, counts and modes that are mostly sensible and sometimes around a limit or past 2^53.
import { SLOT_SIZE } from "./chain_fuzzer.ts";
import type { Rng } from "./random.ts";

const enc = new TextEncoder();
/** Names of entries the share has or gets, and names no server may pass on as one component. */
const NAMES = ["a", "b", "d", "f", "..", ".", "", "x/y", "../..", "a\0b", "n".repeat(300), "ü"].map((n) =>
  enc.encode(n),
);

export const name = (rng: Rng): Uint8Array => rng.pick(NAMES);

export const offset = (rng: Rng): bigint | number =>
  rng.chance(0.8) ? rng.int(1 << 20) : rng.chance(0.5) ? 2 ** 53 - rng.int(4) : rng.u64();

export const count = (rng: Rng): number =>
  rng.chance(0.8) ? rng.int(SLOT_SIZE * 2) : rng.pick([0, 4096 - 11, 65536, 1 << 20, rng.u32()]);

/** A file mode: regular, FIFO, socket, permissions alone, or anything. */
export const mode = (rng: Rng): number =>
  rng.chance(0.8) ? rng.pick([0o100644, 0o10644, 0o140755, 0o755, 0o600]) : rng.u32();
