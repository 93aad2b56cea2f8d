// Block reads and writes in flight together on an io_uring (base/io_ring.ts), so that the guest's queue depth
// reaches the host: each plain read or write of a batch goes to the ring straight from the chain's buffers, and
// the batch waits for all of them at its end (process_queue.ts, InFlight). A request that comes back short or
// failed is done again synchronously with the same iovecs (a read or write of the same bytes is idempotent), and
// fails with IOERR only if that fails too, as the synchronous path would.
import type { IoRing } from "../../../base/io_ring.ts";
import { addressOf } from "../../../../ffi/libc.ts";
import { type IovecDisk, IovecList } from "../../../disk/raw.ts";
import type { GuestMemory } from "../../../vm_memory/guest_memory.ts";
import type { ChainBuffers } from "../descriptor_chain.ts";
import type { InFlight, QueueLog } from "../process_queue.ts";
import { SECTOR_SIZE, VIRTIO_BLK_S_IOERR, VIRTIO_BLK_S_OK } from "./constants.ts";
import type { Transfer } from "./request.ts";

/** Requests one device keeps in flight: the iodepth Linux's fio benchmarks use, 16 KiB of iovecs each. */
export const IN_FLIGHT_REQUESTS = 32;

/** The registered-file index of the image on the ring. */
const IMAGE_FILE = 0;

/** Decodes a plain read or write into `t` and its data buffers into `iov`; false when it is not one to start. */
export type TransferDecoder = (chain: ChainBuffers, t: Transfer, iov: IovecList) => boolean;

interface Slot {
  readonly transfer: Transfer;
  readonly iov: IovecList;
  head: number;
  mem: GuestMemory | undefined;
}

export class RingTransfers implements InFlight<ChainBuffers> {
  readonly #slots: Slot[];
  readonly #free: number[];

  constructor(
    readonly ring: IoRing,
    private readonly disk: IovecDisk,
    private readonly decode: TransferDecoder,
    private readonly log: QueueLog,
  ) {
    const n = Math.min(IN_FLIGHT_REQUESTS, ring.capacity);
    this.#slots = Array.from({ length: n }, () => ({
      transfer: { write: false, sector: 0, length: 0, statusAddr: 0 },
      iov: new IovecList(),
      head: 0,
      mem: undefined,
    }));
    this.#free = Array.from({ length: n }, (_, i) => n - 1 - i);
  }

  get count(): number {
    return this.ring.inFlight;
  }

  start(chain: ChainBuffers): boolean {
    const index = this.#free.pop();
    if (index === undefined) return false;
    const slot = this.#slots[index]!;
    const t = slot.transfer;
    const started =
      this.decode(chain, t, slot.iov) &&
      this.ring.prepare(
        t.write,
        IMAGE_FILE,
        addressOf(slot.iov.words),
        slot.iov.count,
        t.sector * SECTOR_SIZE,
        index,
      );
    if (!started) {
      this.#free.push(index);
      return false;
    }
    slot.head = chain.head;
    slot.mem = chain.mem;
    return true;
  }

  /** Waits for the ring; throws only if the host refuses io_uring_enter itself. */
  complete(done: (head: number, len: number) => void): void {
    this.ring.waitAll();
    this.ring.reap((index, result) => {
      const slot = this.#slots[index]!;
      const t = slot.transfer;
      const ok = result === t.length || this.#redo(slot, result);
      slot.mem!.writeU8(t.statusAddr, ok ? VIRTIO_BLK_S_OK : VIRTIO_BLK_S_IOERR);
      slot.mem = undefined;
      this.#free.push(index);
      done(slot.head, ok ? (t.write ? 1 : t.length + 1) : 1);
    });
  }

  /** Does a short or failed request again synchronously; true when it then moved every byte. */
  #redo(slot: Slot, result: number): boolean {
    const t = slot.transfer;
    const offset = t.sector * SECTOR_SIZE;
    try {
      const n = t.write ? this.disk.writeIovecs(slot.iov, offset) : this.disk.readIovecs(slot.iov, offset);
      if (n === t.length) return true;
      this.log.warn(
        "request failed",
        `${t.write ? "write" : "read"} at sector ${t.sector}: ${n} of ${t.length} bytes`,
      );
    } catch (e) {
      const first = result < 0 ? ` (io_uring: errno ${-result})` : "";
      this.log.warn(
        "request failed",
        `${t.write ? "write" : "read"} at sector ${t.sector}: ${(e as Error).message}${first}`,
      );
    }
    return false;
  }
}
