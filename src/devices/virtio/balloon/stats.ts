// The guest's memory statistics from the stats queue (virtio 1.2 5.5.6.3): the driver's buffer is a packed array
// of struct virtio_balloon_stat { le16 tag; le64 val; }. Values are in bytes for the memory figures and counts
// for the others, as the driver reports them. Unknown tags are skipped (Linux reports more than crosvm names);
// a tag given twice keeps its last value; a trailing partial entry is ignored. crosvm's field names
// (balloon_control::BalloonStats) in camelCase; null where the guest did not report the value.
import {
  STAT_ENTRY_SIZE,
  VIRTIO_BALLOON_S_AVAIL,
  VIRTIO_BALLOON_S_CACHES,
  VIRTIO_BALLOON_S_HTLB_PGALLOC,
  VIRTIO_BALLOON_S_HTLB_PGFAIL,
  VIRTIO_BALLOON_S_MAJFLT,
  VIRTIO_BALLOON_S_MEMFREE,
  VIRTIO_BALLOON_S_MEMTOT,
  VIRTIO_BALLOON_S_MINFLT,
  VIRTIO_BALLOON_S_NONSTANDARD_SHMEM,
  VIRTIO_BALLOON_S_NONSTANDARD_UNEVICTABLE,
  VIRTIO_BALLOON_S_SWAP_IN,
  VIRTIO_BALLOON_S_SWAP_OUT,
} from "./constants.ts";

/** The statistics crosvm reports, in its order; each field's tag. */
export const BALLOON_STAT_TAGS = {
  swapIn: VIRTIO_BALLOON_S_SWAP_IN,
  swapOut: VIRTIO_BALLOON_S_SWAP_OUT,
  majorFaults: VIRTIO_BALLOON_S_MAJFLT,
  minorFaults: VIRTIO_BALLOON_S_MINFLT,
  freeMemory: VIRTIO_BALLOON_S_MEMFREE,
  totalMemory: VIRTIO_BALLOON_S_MEMTOT,
  availableMemory: VIRTIO_BALLOON_S_AVAIL,
  diskCaches: VIRTIO_BALLOON_S_CACHES,
  hugetlbAllocations: VIRTIO_BALLOON_S_HTLB_PGALLOC,
  hugetlbFailures: VIRTIO_BALLOON_S_HTLB_PGFAIL,
  sharedMemory: VIRTIO_BALLOON_S_NONSTANDARD_SHMEM,
  unevictableMemory: VIRTIO_BALLOON_S_NONSTANDARD_UNEVICTABLE,
} as const;

export type BalloonStatName = keyof typeof BALLOON_STAT_TAGS;
export const BALLOON_STAT_NAMES = Object.keys(BALLOON_STAT_TAGS) as BalloonStatName[];

export type BalloonGuestStats = { readonly [K in BalloonStatName]: number | null };

/** Every statistic unreported. */
export function emptyBalloonStats(): BalloonGuestStats {
  return Object.fromEntries(BALLOON_STAT_NAMES.map((n) => [n, null])) as BalloonGuestStats;
}

const NAME_OF_TAG = new Map<number, BalloonStatName>(
  BALLOON_STAT_NAMES.map((n) => [BALLOON_STAT_TAGS[n], n] as const),
);

/**
 * Most statistic bytes read from one buffer: Linux sends 16 entries (VIRTIO_BALLOON_S_NR in 6.x), so 64 entries
 * leave room for newer drivers while bounding what a hostile buffer costs.
 */
export const MAX_STATS_BYTES = 64 * STAT_ENTRY_SIZE;

/** Parses a stats buffer (at most MAX_STATS_BYTES of it are looked at). */
export function parseBalloonStats(bytes: Uint8Array): BalloonGuestStats {
  const stats: { [K in BalloonStatName]: number | null } = { ...emptyBalloonStats() };
  const len = Math.min(bytes.length, MAX_STATS_BYTES);
  const view = new DataView(bytes.buffer, bytes.byteOffset, len);
  for (let at = 0; at + STAT_ENTRY_SIZE <= len; at += STAT_ENTRY_SIZE) {
    const name = NAME_OF_TAG.get(view.getUint16(at, true));
    // A u64 beyond 2^53 loses precision as a number; no memory size or counter here comes near it.
    if (name) stats[name] = Number(view.getBigUint64(at + 2, true));
  }
  return stats;
}
