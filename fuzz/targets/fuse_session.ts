// What a guest's FUSE session holds, as its kernel learns it from the replies: node ids (LOOKUP and the calls that
// make names) and open handles with their node. The fuzz target learns them from the server's tables after each
// request instead of decoding replies out of hostile chains: the server numbers nodes and handles upward from
// its first and never reuses a number, so a new one is the next number that the table knows. Nodes and handles
// the server no longer has (FORGET, RELEASE, DESTROY) move to a short list of stale ones, sent now and then.
import type { FsContext } from "../../src/devices/virtio/fs/context.ts";
import { FUSE_ROOT_ID } from "../../src/devices/virtio/fs/layout.ts";
import type { Rng } from "../random.ts";

/** Most held and stale nodes and handles kept (the oldest go first). */
const KEPT = 32;
const STALE_KEPT = 8;

export interface HeldHandle {
  readonly fh: number;
  readonly nodeid: number;
}

export class FuseSession {
  /** Held nodes; the root is always first. */
  #nodes: number[] = [FUSE_ROOT_ID];
  #handles: HeldHandle[] = [];
  readonly #staleNodes: number[] = [];
  readonly #staleHandles: HeldHandle[] = [];
  #nextNode = FUSE_ROOT_ID + 1;
  #nextFh = 1;
  /** Handles open after the last request. */
  #open = 0;
  /** Nodes and handles learnt so far. */
  nodesLearnt = 0;
  handlesLearnt = 0;

  constructor(readonly ctx: FsContext) {}

  /** Takes in the nodes and the handle the last request made, and drops what it took away. */
  learn(): void {
    const { inodes, handles } = this.ctx;
    this.#nodes = dropGone(this.#nodes, this.#staleNodes, (n) => inodes.get(n) !== undefined);
    this.#handles = dropGone(
      this.#handles,
      this.#staleHandles,
      (h) => handles.get(h.fh, h.nodeid) !== undefined,
    );
    while (inodes.get(this.#nextNode)) {
      keep(this.#nodes, this.#nextNode++, KEPT, 1);
      this.nodesLearnt++;
    }
    // One request opens at most one handle.
    const open = handles.size;
    if (open > this.#open) {
      const fh = this.#nextFh++;
      const nodeid = this.#nodeOf(fh);
      if (nodeid !== undefined) keep(this.#handles, { fh, nodeid }, KEPT, 0);
      this.handlesLearnt++;
    }
    this.#open = open;
  }

  /** The node handle `fh` is open on: mostly a held node, rarely (CREATE of a name let go) another one. */
  #nodeOf(fh: number): number | undefined {
    const has = (n: number) => this.ctx.handles.get(fh, n) !== undefined;
    const held = this.#nodes.find(has);
    if (held !== undefined) return held;
    for (let n = FUSE_ROOT_ID; n < this.#nextNode; n++) if (has(n)) return n;
    return undefined;
  }

  /**
   * A node id: mostly one the session holds (of file type `type` when it holds one), sometimes a stale one, the
   * next to come or any number.
   */
  node(rng: Rng, type?: number): bigint | number {
    if (rng.chance(0.85)) return rng.pick(this.#ofType(rng, this.#nodes, (n) => n, type));
    if (this.#staleNodes.length > 0 && rng.chance(0.5)) return rng.pick(this.#staleNodes);
    return rng.chance(0.5) ? this.#nextNode + rng.int(3) : rng.u64();
  }

  /** An open handle: mostly one the session holds (on a node of `type` when it can), sometimes a stale or made-up one. */
  handle(rng: Rng, type?: number): HeldHandle {
    if (this.#handles.length > 0 && rng.chance(0.9))
      return rng.pick(this.#ofType(rng, this.#handles, (h) => h.nodeid, type));
    if (this.#staleHandles.length > 0 && rng.chance(0.5)) return rng.pick(this.#staleHandles);
    return { fh: rng.chance(0.5) ? this.#nextFh + rng.int(2) : rng.u32(), nodeid: rng.pick(this.#nodes) };
  }

  /** The items of `list` on a node of file type `type`, mostly; else (or when there are none) all of them. */
  #ofType<T>(rng: Rng, list: T[], nodeOf: (item: T) => number, type: number | undefined): T[] {
    if (type === undefined || rng.chance(0.2)) return list;
    const matching = list.filter((item) => this.ctx.inodes.get(nodeOf(item))?.type === type);
    return matching.length > 0 ? matching : list;
  }
}

/** Appends `item`, dropping the oldest past `most` but the first `pinned` (the root in the node list). */
function keep<T>(list: T[], item: T, most: number, pinned: number): void {
  list.push(item);
  if (list.length > most) list.splice(pinned, 1);
}

/** The items of `held` that are still there; the others go to `stale`. */
function dropGone<T>(held: T[], stale: T[], there: (item: T) => boolean): T[] {
  const kept = held.filter(there);
  if (kept.length < held.length) for (const item of held) if (!there(item)) keep(stale, item, STALE_KEPT, 0);
  return kept;
}
