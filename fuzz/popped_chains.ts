// The chains a device popped from a queue, exactly as the queue handed them over: a target's checks compare what
// the device did (its output, what it gave back, its used lengths) with each chain's buffers.
import type { Descriptor, DescriptorChain } from "../src/devices/virtio/descriptor_chain.ts";
import type { Queue } from "../src/devices/virtio/split_queue.ts";
import { DATA_BASE } from "../src/devices/virtio/testing.ts";
import type { GuestMemory } from "../src/vm_memory/guest_memory.ts";

export interface PoppedChain {
  readonly chain: DescriptorChain;
  /**
   * The bytes of its device-readable buffers when it was popped: what the device read, even where a hostile
   * chain points at memory the device writes afterwards (the used ring, another buffer).
   */
  readonly readable: Uint8Array;
}

export class PoppedChains {
  #popped: PoppedChain[] = [];

  /** Starts recording what `queue.pop()` returns (the path processQueue and the balloon's stats queue take). */
  constructor(queue: Queue) {
    const pop = queue.pop.bind(queue);
    queue.pop = () => {
      const chain = pop();
      if (chain)
        this.#popped.push({
          chain,
          readable: chain.error ? new Uint8Array(0) : bytesOf(chain.mem, chain.readable),
        });
      return chain;
    };
  }

  /** The chains popped since the last call, in order. */
  take(): PoppedChain[] {
    const popped = this.#popped;
    this.#popped = [];
    return popped;
  }
}

/** A copy of the bytes of `buffers`, one after the other (at most `limit` of them). */
export function bytesOf(mem: GuestMemory, buffers: readonly Descriptor[], limit = Infinity): Uint8Array {
  const total = Math.min(
    limit,
    buffers.reduce((n, b) => n + b.len, 0),
  );
  const out = new Uint8Array(total);
  let at = 0;
  for (const b of buffers) {
    if (at === total) break;
    const n = Math.min(b.len, total - at);
    out.set(mem.slice(b.addr, n), at);
    at += n;
  }
  return out;
}

/**
 * Whether what a device wrote into `buffers` can be read back afterwards as written: each lies past the rings
 * (which the device writes next) and none overlaps another.
 */
export function canReadBack(buffers: readonly Descriptor[]): boolean {
  const sorted = [...buffers].sort((a, b) => a.addr - b.addr);
  return sorted.every(
    (b, i) => b.addr >= DATA_BASE && (i === 0 || sorted[i - 1]!.addr + sorted[i - 1]!.len <= b.addr),
  );
}

/** Bytes in `buffers`. */
export const lengthOf = (buffers: readonly Descriptor[]): number => buffers.reduce((n, b) => n + b.len, 0);

/** A used ring element. */
export interface UsedElement {
  readonly id: number;
  readonly len: number;
}

/**
 * The chains popped in one notification, each with the used element the device gave it (processQueue uses them
 * in the order it pops them); a finding when they do not pair up.
 */
export function pairWithUsed(
  popped: readonly PoppedChain[],
  used: readonly UsedElement[],
): { pairs: [PoppedChain, UsedElement][]; finding?: string } {
  if (popped.length !== used.length)
    return { pairs: [], finding: `${popped.length} chains popped, ${used.length} used` };
  const pairs = popped.map((p, i): [PoppedChain, UsedElement] => [p, used[i]!]);
  const wrong = pairs.find(([p, u]) => p.chain.head !== u.id);
  return wrong ? { pairs, finding: `chain ${wrong[0].chain.head} used as ${wrong[1].id}` } : { pairs };
}
