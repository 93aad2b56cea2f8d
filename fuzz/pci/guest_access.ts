// Guest accesses as a vCPU exit hands them to the VMM's buses: an I/O port or MMIO address, 1, 2, 4 or 8 bytes (a
// port takes at most 4), a little-endian value for a write. `AccessPort` performs them as the vCPU loop does
// (Bus.read / Bus.write) and reports what that path must never do: throw (the vCPU loop would get it), touch bytes
// beside the access's own, or leave bytes of a read unset. For the last, a read whose repetition cannot change
// anything is done twice, over zeros and over all-ones, and must give the same bytes.
import type { Bus } from "../../src/devices/bus.ts";

export type AccessSize = 1 | 2 | 4 | 8;
export const MMIO_SIZES: readonly AccessSize[] = [1, 2, 4, 8];
/** Sizes of a port or configuration-space access, and of a field a driver reads at once: at most a dword. */
export const NARROW_SIZES: readonly AccessSize[] = [1, 2, 4];

export interface GuestAccess {
  readonly kind: "io" | "mmio";
  readonly addr: number;
  readonly size: AccessSize;
  readonly write: boolean;
  /** What a write stores (its low `size` bytes); a read ignores it. */
  readonly value: bigint;
}

export const readAt = (kind: GuestAccess["kind"], addr: number, size: AccessSize): GuestAccess => ({
  kind,
  addr,
  size,
  write: false,
  value: 0n,
});

export const writeAt = (
  kind: GuestAccess["kind"],
  addr: number,
  size: AccessSize,
  value: bigint | number,
): GuestAccess => ({ kind, addr, size, write: true, value: BigInt.asUintN(64, BigInt(value)) });

/** The little-endian value of `bytes`. */
export function leValue(bytes: Uint8Array): bigint {
  let v = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(bytes[i]!);
  return v;
}

function setLe(bytes: Uint8Array, value: bigint): void {
  let v = value;
  for (let i = 0; i < bytes.length; i++) {
    bytes[i] = Number(v & 0xffn);
    v >>= 8n;
  }
}

/** Bytes on either side of the access's own that nothing may touch. */
const GUARD = 8;
const GUARD_BYTE = 0x5a;

export type AccessResult = { readonly value: bigint } | { readonly finding: string };

export class AccessPort {
  /** The access's bytes in the middle, guards around them (a vCPU's are the 8 data bytes of kvm_run). */
  readonly #frame = new Uint8Array(GUARD + 8 + GUARD);
  readonly #again = new Uint8Array(8);

  constructor(readonly buses: { readonly io: Bus; readonly mmio: Bus }) {}

  /** Performs `a`: the value read (0n for a write), or what went wrong. */
  perform(a: GuestAccess, repeatable: boolean): AccessResult {
    const what = `${a.write ? "write" : "read"} of ${a.size} bytes at ${a.kind} 0x${a.addr.toString(16)}`;
    const bus = a.kind === "io" ? this.buses.io : this.buses.mmio;
    this.#frame.fill(GUARD_BYTE);
    const data = this.#frame.subarray(GUARD, GUARD + a.size);
    try {
      if (a.write) {
        setLe(data, a.value);
        bus.write(a.addr, data);
      } else {
        data.fill(0);
        bus.read(a.addr, data);
        if (repeatable) {
          this.#again.set(data);
          data.fill(0xff);
          bus.read(a.addr, data);
          for (let i = 0; i < a.size; i++)
            if (data[i] !== this.#again[i])
              return {
                finding: `${what}: byte ${i} read ${this.#again[i]} over zeros, ${data[i]} over ones`,
              };
        }
      }
    } catch (e) {
      return { finding: `${what} threw out of the bus: ${(e as Error).stack}` };
    }
    const touched = this.#frame.findIndex((b, i) => (i < GUARD || i >= GUARD + a.size) && b !== GUARD_BYTE);
    if (touched >= 0) return { finding: `${what} changed byte ${touched - GUARD} beside the access` };
    return { value: a.write ? 0n : leValue(data) };
  }
}
