// What a device did with one of its queues, as the device itself saw it: the chains it popped (copied at the pop,
// with the bytes of their device-readable buffers, so a driver rewriting descriptors or a device writing over a
// buffer later changes nothing here) and the (head, length) pairs it put in the used ring, in order. It wraps the
// Queue object's pop, popInto and addUsed, so a target can check the device's output, its writes and its used
// lengths against the buffers of the very chains the device walked, even when those writes land on the rings.
import type { ChainBuffers, Descriptor } from "../src/devices/virtio/descriptor_chain.ts";
import type { Queue } from "../src/devices/virtio/split_queue.ts";
import { DATA_BASE } from "../src/devices/virtio/testing.ts";
import type { GuestMemory } from "../src/vm_memory/guest_memory.ts";

export interface SeenChain {
  readonly head: number;
  /** Why the queue refused the chain, or undefined for a good one. */
  readonly error: string | undefined;
  readonly buffers: readonly Descriptor[];
  /**
   * The bytes of its device-readable buffers when it was popped (none for a refused chain): what the device read,
   * even where a hostile chain points at memory the device writes afterwards (the used ring, another buffer).
   */
  readonly readable: Uint8Array;
}

export interface UsedEntry {
  readonly head: number;
  readonly len: number;
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

function seen(
  mem: GuestMemory,
  head: number,
  error: string | undefined,
  buffers: readonly Descriptor[],
): SeenChain {
  const readable = error ? new Uint8Array(0) : bytesOf(mem, readableOf({ buffers }));
  return { head, error, buffers, readable };
}

function fromChainBuffers(c: ChainBuffers): SeenChain {
  const buffers: Descriptor[] = [];
  for (let i = 0; i < c.count; i++)
    buffers.push({ addr: c.addr[i]!, len: c.len[i]!, writable: c.writable[i] === 1 });
  return seen(c.mem, c.head, c.error, buffers);
}

export class QueueRecorder {
  #popped: SeenChain[] = [];
  #used: UsedEntry[] = [];

  /** Starts recording what the device pops from `queue` (by either path) and uses. */
  constructor(queue: Queue) {
    const pop = queue.pop.bind(queue);
    const popInto = queue.popInto.bind(queue);
    const addUsed = queue.addUsed.bind(queue);
    queue.pop = () => {
      const chain = pop();
      if (chain) this.#popped.push(seen(chain.mem, chain.head, chain.error, chain.descriptors));
      return chain;
    };
    queue.popInto = (out) => {
      const popped = popInto(out);
      if (popped) this.#popped.push(fromChainBuffers(out));
      return popped;
    };
    queue.addUsed = (head, len) => {
      this.#used.push({ head, len });
      addUsed(head, len);
    };
  }

  /** What the device popped and used since the last call, in order. */
  take(): { popped: SeenChain[]; used: UsedEntry[] } {
    const taken = { popped: this.#popped, used: this.#used };
    this.#popped = [];
    this.#used = [];
    return taken;
  }
}

export const readableOf = (c: Pick<SeenChain, "buffers">): Descriptor[] =>
  c.buffers.filter((b) => !b.writable);
export const writableOf = (c: Pick<SeenChain, "buffers">): Descriptor[] =>
  c.buffers.filter((b) => b.writable);

/** Whether two recorded lists of used entries are the same. */
export function sameUsed(a: readonly UsedEntry[], b: readonly UsedEntry[]): boolean {
  return a.length === b.length && a.every((e, i) => e.head === b[i]!.head && e.len === b[i]!.len);
}

/**
 * The chains popped in one notification, each with the used entry the device gave it (processQueue uses them in
 * the order it pops them); a finding when they do not pair up.
 */
export function pairWithUsed(
  popped: readonly SeenChain[],
  used: readonly UsedEntry[],
): { pairs: [SeenChain, UsedEntry][]; finding?: string } {
  if (popped.length !== used.length)
    return { pairs: [], finding: `${popped.length} chains popped, ${used.length} used` };
  const pairs = popped.map((c, i): [SeenChain, UsedEntry] => [c, used[i]!]);
  const wrong = pairs.find(([c, u]) => c.head !== u.head);
  return wrong ? { pairs, finding: `chain ${wrong[0].head} used as ${wrong[1].head}` } : { pairs };
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
