// The fuzzers' deterministic randomness: one seed reproduces a whole run, and a finding names the iteration.
import { mulberry32 } from "../src/devices/virtio/testing.ts";

/** Numbers that find bounds mistakes more often than uniform ones do. */
export const INTERESTING_U32 = [
  0, 1, 2, 7, 8, 15, 16, 17, 31, 32, 33, 255, 256, 511, 512, 513, 4095, 4096, 4097, 65535, 65536, 0x7fff_ffff,
  0x8000_0000, 0xffff_fffe, 0xffff_ffff,
] as const;

export const INTERESTING_U64 = [
  0n,
  1n,
  0x200n,
  0x1000n,
  0x10000n,
  0x7fff_ffffn,
  0xffff_ffffn,
  0x1_0000_0000n,
  2n ** 53n - 1n,
  2n ** 53n,
  2n ** 56n,
  2n ** 63n,
  2n ** 64n - 1n,
] as const;

export class Rng {
  readonly #next: () => number;

  constructor(readonly seed: number) {
    this.#next = mulberry32(seed);
  }

  /** A float in [0, 1). */
  float(): number {
    return this.#next();
  }

  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.#next() * n);
  }

  chance(p: number): boolean {
    return this.#next() < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }

  /** `n` random bytes. */
  bytes(n: number): Uint8Array {
    return Uint8Array.from({ length: n }, () => this.int(256));
  }

  u32(): number {
    return this.chance(0.5) ? this.pick(INTERESTING_U32) : this.int(2 ** 32);
  }

  u64(): bigint {
    return this.chance(0.5)
      ? this.pick(INTERESTING_U64)
      : (BigInt(this.int(2 ** 32)) << 32n) | BigInt(this.int(2 ** 32));
  }
}

/**
 * Applies `count` random mutations to `bytes` in place, each inside [from, to): bit flips, random bytes,
 * interesting 8/16/32/64-bit values in either byte order, copied chunks and zeroed runs.
 */
export function mutate(rng: Rng, bytes: Uint8Array, count: number, from = 0, to = bytes.length): void {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const span = to - from;
  if (span <= 0) return;
  for (let i = 0; i < count; i++) {
    const at = from + rng.int(span);
    const room = to - at;
    switch (rng.int(7)) {
      case 0:
        bytes[at]! ^= 1 << rng.int(8);
        break;
      case 1:
        bytes[at] = rng.int(256);
        break;
      case 2:
        if (room >= 4) v.setUint32(at, rng.u32(), rng.chance(0.5));
        break;
      case 3:
        if (room >= 8) v.setBigUint64(at, BigInt.asUintN(64, rng.u64()), rng.chance(0.5));
        break;
      case 4:
        if (room >= 2) v.setUint16(at, rng.pick(INTERESTING_U32) & 0xffff, rng.chance(0.5));
        break;
      case 5: {
        const src = from + rng.int(span);
        const n = Math.min(rng.int(64) + 1, to - src, room);
        bytes.copyWithin(at, src, src + n);
        break;
      }
      default:
        bytes.fill(0, at, at + Math.min(room, rng.int(32) + 1));
    }
  }
}

/** What one fuzz run found. */
export interface FuzzReport {
  readonly target: string;
  readonly seed: number;
  readonly iterations: number;
  /** Findings, each naming the iteration that reproduces it (at most the first 20 are kept). */
  readonly failures: string[];
  /** Target-specific counts, to show the run exercised what it should. */
  readonly stats: Record<string, number>;
}

/** Adds `n` to the count `key` of a report's stats. */
export function tally(stats: Record<string, number>, key: string, n = 1): void {
  stats[key] = (stats[key] ?? 0) + n;
}

/** Keeps the first 20 findings. */
export function recordFailure(failures: string[], message: string): void {
  if (failures.length < 20) failures.push(message);
}
