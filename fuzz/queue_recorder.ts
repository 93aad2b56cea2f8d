// What a device did with one of its queues, as the device itself saw it: the chains it popped (copied at the pop,
// so a driver rewriting descriptors later changes nothing here) and the (head, length) pairs it put in the used
// ring, in order. It wraps the Queue object's pop, popInto and addUsed, so a target can check the device's
// writes against the buffers of the very chains the device walked, even when those writes land on the rings.
import type { ChainBuffers, DescriptorChain } from "../src/devices/virtio/descriptor_chain.ts";
import type { Queue } from "../src/devices/virtio/split_queue.ts";

export interface SeenBuffer {
  readonly addr: number;
  readonly len: number;
  readonly writable: boolean;
}

export interface SeenChain {
  readonly head: number;
  /** Why the queue refused the chain, or undefined for a good one. */
  readonly error: string | undefined;
  readonly buffers: readonly SeenBuffer[];
}

export interface UsedEntry {
  readonly head: number;
  readonly len: number;
}

function copyBuffers(c: ChainBuffers): SeenChain {
  const buffers: SeenBuffer[] = [];
  for (let i = 0; i < c.count; i++)
    buffers.push({ addr: c.addr[i]!, len: c.len[i]!, writable: c.writable[i] === 1 });
  return { head: c.head, error: c.error, buffers };
}

function copyChain(c: DescriptorChain): SeenChain {
  return { head: c.head, error: c.error, buffers: c.descriptors.map((d) => ({ ...d })) };
}

export class QueueRecorder {
  #popped: SeenChain[] = [];
  #used: UsedEntry[] = [];

  constructor(queue: Queue) {
    const pop = queue.pop.bind(queue);
    const popInto = queue.popInto.bind(queue);
    const addUsed = queue.addUsed.bind(queue);
    queue.pop = () => {
      const chain = pop();
      if (chain) this.#popped.push(copyChain(chain));
      return chain;
    };
    queue.popInto = (out) => {
      const popped = popInto(out);
      if (popped) this.#popped.push(copyBuffers(out));
      return popped;
    };
    queue.addUsed = (head, len) => {
      this.#used.push({ head, len });
      addUsed(head, len);
    };
  }

  /** What the device popped and used since the last call. */
  take(): { popped: SeenChain[]; used: UsedEntry[] } {
    const taken = { popped: this.#popped, used: this.#used };
    this.#popped = [];
    this.#used = [];
    return taken;
  }
}

/** Whether two recorded lists of used entries are the same. */
export function sameUsed(a: readonly UsedEntry[], b: readonly UsedEntry[]): boolean {
  return a.length === b.length && a.every((e, i) => e.head === b[i]!.head && e.len === b[i]!.len);
}
