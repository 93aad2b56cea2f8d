// virtio-balloon (virtio 1.2 section 5.5). The host sets a target (num_pages, from `crosvm balloon SIZE`); the
// driver gives that many 4 KiB frames to the device on the inflate queue and takes them back on the deflate
// queue. A frame given to the device is given back to the host: its range of the guest-RAM memfd is punched
// (fallocate PUNCH_HOLE|KEEP_SIZE; the memfd is sealed against shrinking and growing only, which punching does
// not do), so the VMM's and the device processes' shared mappings stop holding it; a deflated frame needs
// nothing, since the guest's next touch faults in a zeroed page. With VIRTIO_BALLOON_F_PAGE_REPORTING the driver
// also hands over free ranges it keeps (reporting_vq), which are punched the same way.
//
// The stats queue follows crosvm: the driver keeps one buffer queued; a stats request returns it, the driver
// refills it with fresh figures and queues it again, and those figures answer the request.
//
// Queues: inflateq 0, deflateq 1, statsq 2, then reporting_vq. Linux numbers the queues it sets up without gaps
// (vp_find_vqs skips absent ones), so reporting_vq's index depends on the features the driver accepted. The
// device always exposes four queues; one the driver does not use is never enabled.
import type { LogSink } from "../../../base/guest_log.ts";
import { logger } from "../../../base/log.ts";
import { FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE, fallocate } from "../../../../ffi/libc.ts";
import type { GuestMemory } from "../../../vm_memory/guest_memory.ts";
import { featureBit, VIRTIO_ID_BALLOON } from "../constants.ts";
import type { DescriptorChain } from "../descriptor_chain.ts";
import { Reader } from "../descriptor_utils.ts";
import { type ActiveState, BASE_FEATURES, VirtioDeviceBase } from "../device_base.ts";
import { processQueue } from "../process_queue.ts";
import type { Queue } from "../split_queue.ts";
import {
  BALLOON_PAGE_SIZE,
  BALLOON_QUEUE_SIZE,
  CONFIG_ACTUAL,
  CONFIG_NUM_PAGES,
  CONFIG_SIZE,
  VIRTIO_BALLOON_F_DEFLATE_ON_OOM,
  VIRTIO_BALLOON_F_MUST_TELL_HOST,
  VIRTIO_BALLOON_F_PAGE_REPORTING,
  VIRTIO_BALLOON_F_STATS_VQ,
} from "./constants.ts";
import {
  BalloonEvent,
  BalloonMessageError,
  BalloonRequest,
  BalloonStatsReply,
  decodeAdjust,
  encodeActualEvent,
  encodeReport,
} from "./control.ts";
import { decodePfns, MAX_PFNS_PER_CHAIN, type MemfdRange, MemfdRanges, memfdOffsetOf } from "./pfn.ts";
import { type BalloonGuestStats, emptyBalloonStats, MAX_STATS_BYTES, parseBalloonStats } from "./stats.ts";

export const BALLOON_QUEUE_COUNT = 4;

/** Gives memfd ranges of guest RAM back to the host. */
export type ReleaseRanges = (mem: GuestMemory, ranges: readonly MemfdRange[]) => void;

/** fallocate(PUNCH_HOLE | KEEP_SIZE) on the guest-RAM memfd: the pages go back to the host, the size stays. */
export const punchHoles: ReleaseRanges = (mem, ranges) => {
  if (mem.memfd < 0) throw new Error("guest memory has no memfd to give pages back through");
  for (const r of ranges)
    fallocate(
      mem.memfd,
      FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
      r.offset,
      r.length,
      "guest memory memfd",
    );
};

export interface BalloonModelOptions {
  /** Offer VIRTIO_BALLOON_F_PAGE_REPORTING (--balloon-page-reporting). */
  readonly pageReporting: boolean;
  /** num_pages at start (crosvm's --init-mem: RAM minus the initial memory, in 4 KiB pages). */
  readonly initialPages: number;
  /** How ranges go back to the host (tests record them); default punchHoles. */
  readonly release?: ReleaseRanges;
}

type QueueRole = "inflate" | "deflate" | "stats" | "reporting";

export class VirtioBalloon extends VirtioDeviceBase {
  readonly debugLabel = "virtio-balloon";
  readonly deviceType = VIRTIO_ID_BALLOON;
  readonly queueMaxSizes = Array.from({ length: BALLOON_QUEUE_COUNT }, () => BALLOON_QUEUE_SIZE);
  protected readonly log: LogSink = logger("devices::virtio::balloon");

  readonly #config = new Uint8Array(CONFIG_SIZE);
  readonly #configView = new DataView(this.#config.buffer);
  readonly #release: ReleaseRanges;
  #stats: BalloonGuestStats = emptyBalloonStats();
  /** The stats buffer the driver keeps queued, held until a stats request returns it. */
  #statsHead: number | undefined;
  /** A stats request returned the buffer; the refilled one answers it. */
  #statsPending = false;
  /** Bytes given back to the host since the device was created (inflate and page reporting). */
  releasedBytes = 0;
  /** Pages of guest RAM, known once a driver started the device: the most the balloon can hold. */
  #ramPages = 0;

  constructor(readonly options: BalloonModelOptions) {
    super();
    this.#release = options.release ?? punchHoles;
    this.#configView.setUint32(CONFIG_NUM_PAGES, options.initialPages >>> 0, true);
  }

  features(): bigint {
    return (
      BASE_FEATURES |
      featureBit(VIRTIO_BALLOON_F_MUST_TELL_HOST) |
      featureBit(VIRTIO_BALLOON_F_STATS_VQ) |
      featureBit(VIRTIO_BALLOON_F_DEFLATE_ON_OOM) |
      (this.options.pageReporting ? featureBit(VIRTIO_BALLOON_F_PAGE_REPORTING) : 0n)
    );
  }

  get numPages(): number {
    return this.#configView.getUint32(CONFIG_NUM_PAGES, true);
  }

  /**
   * The driver's `actual`, but never more pages than guest RAM: the host takes it for memory the guest gave back,
   * and a driver must not make the balloon look larger than the guest (none before a driver started the device).
   */
  get actualPages(): number {
    return Math.min(this.#configView.getUint32(CONFIG_ACTUAL, true), this.#ramPages);
  }

  protected override onActivate(active: ActiveState): void {
    this.#ramPages = Math.floor(active.mem.size / BALLOON_PAGE_SIZE);
  }

  readConfig(offset: number, data: Uint8Array): void {
    data.fill(0);
    if (offset >= CONFIG_SIZE) return;
    data.set(this.#config.subarray(offset, Math.min(CONFIG_SIZE, offset + data.length)));
  }

  /** Only `actual` is the driver's to write (5.5.4); the other fields ignore writes. */
  override writeConfig(offset: number, data: Uint8Array): void {
    const from = Math.max(offset, CONFIG_ACTUAL);
    const to = Math.min(offset + data.length, CONFIG_ACTUAL + 4);
    if (from >= to) return;
    const before = this.actualPages;
    this.#config.set(data.subarray(from - offset, to - offset), from);
    const actual = this.actualPages;
    if (actual !== before) this.active?.interrupt.signalDeviceEvent?.(encodeActualEvent(actual));
  }

  /** The role of queue `index` given the features the driver accepted (see the header). */
  #role(index: number): QueueRole | undefined {
    const roles: QueueRole[] = ["inflate", "deflate"];
    const acked = this.ackedFeatures;
    if (acked & featureBit(VIRTIO_BALLOON_F_STATS_VQ)) roles.push("stats");
    if (acked & featureBit(VIRTIO_BALLOON_F_PAGE_REPORTING)) roles.push("reporting");
    return roles[index];
  }

  #queueOf(role: QueueRole, active: ActiveState): Queue | undefined {
    for (const [index, queue] of active.queues) if (this.#role(index) === role) return queue;
    return undefined;
  }

  protected processQueue(index: number, queue: Queue, active: ActiveState): void {
    switch (this.#role(index)) {
      case "inflate":
        processQueue(queue, active.interrupt, (c) => this.#frames(c, true), this.guestLog);
        return;
      case "deflate":
        processQueue(queue, active.interrupt, (c) => this.#frames(c, false), this.guestLog);
        return;
      case "reporting":
        processQueue(queue, active.interrupt, (c) => this.#reported(c), this.guestLog);
        return;
      case "stats":
        this.#statsQueue(queue, active);
        return;
      default:
        this.guestLog.warn(
          "unknown queue",
          `notify on queue ${index}, which the driver's features do not use`,
        );
    }
  }

  /** An inflate (release) or deflate chain: le32 frame numbers; returns the bytes written (none). */
  #frames(chain: DescriptorChain, release: boolean): number {
    const reader = Reader.of(chain);
    if (reader.available > MAX_PFNS_PER_CHAIN * 4)
      throw new BalloonMessageError(
        `${reader.available} bytes of page frames in one chain (at most ${MAX_PFNS_PER_CHAIN * 4})`,
      );
    const decoded = decodePfns(chain.mem, reader.readExact(reader.available, "page frames"));
    if (decoded.refused > 0)
      this.guestLog.warn(
        "frame outside RAM",
        `${decoded.refused} page frame(s) outside guest RAM refused (first: 0x${decoded.firstRefused!.toString(16)})`,
      );
    if (release) this.#give(chain.mem, decoded.ranges);
    return 0;
  }

  /** A page-reporting chain: each buffer is a free range of guest RAM the driver will not touch until used. */
  #reported(chain: DescriptorChain): number {
    const ranges = new MemfdRanges();
    for (const d of chain.descriptors) {
      const offset = memfdOffsetOf(chain.mem, d.addr, d.len);
      if (offset < 0) {
        this.guestLog.warn(
          "range outside RAM",
          `reported range 0x${d.addr.toString(16)}+0x${d.len.toString(16)} is not inside guest RAM; refused`,
        );
        continue;
      }
      ranges.add(offset, d.len);
    }
    this.#give(chain.mem, ranges.ranges);
    return 0;
  }

  #give(mem: GuestMemory, ranges: readonly MemfdRange[]): void {
    if (ranges.length === 0) return;
    this.#release(mem, ranges);
    for (const r of ranges) this.releasedBytes += r.length;
  }

  /** Keeps the newest stats buffer; a refill after a stats request answers it. */
  #statsQueue(queue: Queue, active: ActiveState): void {
    let returned = 0;
    for (let chain = queue.pop(); chain; chain = queue.pop()) {
      if (chain.error) {
        this.guestLog.warn("refused chain", `refused stats descriptor chain ${chain.head}: ${chain.error}`);
        queue.addUsed(chain.head, 0);
        returned++;
        continue;
      }
      // A driver queues one stats buffer at a time; an older one still held goes back unread.
      if (this.#statsHead !== undefined) {
        queue.addUsed(this.#statsHead, 0);
        returned++;
      }
      const reader = Reader.of(chain);
      this.#stats = parseBalloonStats(
        reader.readExact(Math.min(reader.available, MAX_STATS_BYTES), "statistics"),
      );
      this.#statsHead = chain.head;
      if (this.#statsPending) {
        this.#statsPending = false;
        active.interrupt.signalDeviceEvent?.(encodeReport(BalloonEvent.Stats, this.#report()));
      }
    }
    if (queue.fault) active.interrupt.signalNeedsReset(queue.fault);
    if (returned > 0 && queue.needsNotification()) active.interrupt.signalUsedQueue(queue.vector);
  }

  #report() {
    return { actualPages: this.actualPages, stats: this.#stats };
  }

  /**
   * A request from the balloon kind's control hook (control.ts): ADJUST sets num_pages and tells the driver
   * (configuration change); STATS answers now with what the device has when it cannot ask the driver, or returns
   * the held stats buffer and answers with an event once the driver refilled it.
   */
  controlRequest(msg: Uint8Array): Uint8Array {
    switch (msg[0]) {
      case BalloonRequest.Adjust: {
        const pages = decodeAdjust(msg);
        this.#configView.setUint32(CONFIG_NUM_PAGES, pages, true);
        this.active?.interrupt.signalConfigChanged();
        return new Uint8Array(0);
      }
      case BalloonRequest.Stats:
        return this.#requestStats();
      default:
        throw new BalloonMessageError(`unknown balloon request ${msg[0]}`);
    }
  }

  #requestStats(): Uint8Array {
    if (this.#statsPending) return Uint8Array.of(BalloonStatsReply.Pending);
    const active = this.active;
    const queue = active && this.#queueOf("stats", active);
    if (!active || !queue || this.#statsHead === undefined)
      return encodeReport(BalloonStatsReply.Now, this.#report());
    queue.addUsed(this.#statsHead, 0);
    this.#statsHead = undefined;
    this.#statsPending = true;
    if (queue.needsNotification()) active.interrupt.signalUsedQueue(queue.vector);
    return Uint8Array.of(BalloonStatsReply.Pending);
  }

  override reset(): void {
    super.reset();
    this.#statsHead = undefined;
    this.#statsPending = false;
    // A new driver starts with an empty balloon.
    this.#configView.setUint32(CONFIG_ACTUAL, 0, true);
  }
}
