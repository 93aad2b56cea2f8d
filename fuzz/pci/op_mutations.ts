// Mutations of a guest's operation list (a plausible driver's, mostly): a write's value replaced by a hostile one,
// a bit of it flipped or it moved by one; an access's size changed, its address moved by a byte, a register or a
// page; a read turned into a write, a write into a 64-bit one; operations dropped, repeated or swapped with the
// next; random ones inserted.
import type { Rng } from "../random.ts";
import { type AccessSize, type GuestAccess, MMIO_SIZES, NARROW_SIZES } from "./guest_access.ts";
import type { PciMachine } from "./pci_machine.ts";
import { hostileValue, randomOp } from "./random_access.ts";
import { type GuestOp, Script } from "./script.ts";

const ADDRESS_STEPS = [1, 2, 4, 8, 0x1000];

function mutatedValue(rng: Rng, value: bigint): bigint {
  switch (rng.int(4)) {
    case 0:
      return value ^ (1n << BigInt(rng.int(64)));
    case 1:
      return BigInt.asUintN(64, value + (rng.chance(0.5) ? 1n : -1n));
    default:
      return hostileValue(rng);
  }
}

function mutatedAccess(rng: Rng, a: GuestAccess): GuestAccess {
  switch (rng.int(5)) {
    case 0: {
      const size: AccessSize = rng.pick(a.kind === "io" ? NARROW_SIZES : MMIO_SIZES);
      return { ...a, size };
    }
    case 1: {
      const step = rng.pick(ADDRESS_STEPS);
      return { ...a, addr: Math.max(0, a.addr + (rng.chance(0.5) ? step : -step)) };
    }
    case 2:
      return a.write
        ? { ...a, value: mutatedValue(rng, a.value) }
        : { ...a, write: true, value: hostileValue(rng) };
    case 3:
      return a.write ? { ...a, value: hostileValue(rng) } : a;
    default:
      // A 64-bit write where the driver wrote a half: a ring address, a feature word past 2^53 in one go.
      return a.kind === "mmio" && a.write ? { ...a, size: 8, value: BigInt.asUintN(64, rng.u64()) } : a;
  }
}

/** Applies `count` mutations to `ops` in place; inserted operations are random ones of machine `m`. */
export function mutateOps(rng: Rng, ops: GuestOp[], m: PciMachine, count: number): void {
  for (let i = 0; i < count; i++) {
    const at = rng.int(ops.length + 1);
    const op = ops[at];
    switch (rng.int(6)) {
      case 0: {
        const inserted = new Script(rng, rng.chance(0.5) ? "ecam" : "ports");
        randomOp(inserted, m);
        ops.splice(at, 0, ...inserted.ops);
        break;
      }
      case 1:
        if (op) ops.splice(at, 1);
        break;
      case 2:
        if (op) ops.splice(at, 0, op);
        break;
      case 3:
        if (op && at + 1 < ops.length) [ops[at], ops[at + 1]] = [ops[at + 1]!, op];
        break;
      default:
        if (op && op.kind !== "chain") ops[at] = mutatedAccess(rng, op);
    }
  }
}
