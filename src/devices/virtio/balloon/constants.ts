// virtio-balloon numbers (virtio 1.2 section 5.5; Linux include/uapi/linux/virtio_balloon.h; crosvm
// devices/src/virtio/balloon.rs for its two non-standard statistics).

/** Feature bits (5.5.3), as bit numbers. */
export const VIRTIO_BALLOON_F_MUST_TELL_HOST = 0;
export const VIRTIO_BALLOON_F_STATS_VQ = 1;
export const VIRTIO_BALLOON_F_DEFLATE_ON_OOM = 2;
export const VIRTIO_BALLOON_F_FREE_PAGE_HINT = 3;
export const VIRTIO_BALLOON_F_PAGE_POISON = 4;
export const VIRTIO_BALLOON_F_PAGE_REPORTING = 5;

/**
 * Page frame numbers in the inflate and deflate queues count 4 KiB units whatever the guest's page size
 * (5.5.6: "the page frame number ... shifted by 12 bits"; VIRTIO_BALLOON_PFN_SHIFT).
 */
export const VIRTIO_BALLOON_PFN_SHIFT = 12;
export const BALLOON_PAGE_SIZE = 1 << VIRTIO_BALLOON_PFN_SHIFT;

/**
 * Device configuration layout (5.5.4), all little-endian u32: num_pages (device-written target), actual (written
 * by the driver), free_page_hint_cmd_id and poison_val (unused here: their features are not offered).
 */
export const CONFIG_NUM_PAGES = 0;
export const CONFIG_ACTUAL = 4;
export const CONFIG_FREE_PAGE_HINT_CMD_ID = 8;
export const CONFIG_POISON_VAL = 12;
export const CONFIG_SIZE = 16;

/** Queue size of every queue (crosvm's QUEUE_SIZE). */
export const BALLOON_QUEUE_SIZE = 128;

/** Size of one statistic in the stats queue: le16 tag, le64 val, packed (5.5.6.3 struct virtio_balloon_stat). */
export const STAT_ENTRY_SIZE = 10;

/** Statistic tags (5.5.6.3), and crosvm's two non-standard ones (balloon.rs, VIRTIO_BALLOON_S_NONSTANDARD_*). */
export const VIRTIO_BALLOON_S_SWAP_IN = 0;
export const VIRTIO_BALLOON_S_SWAP_OUT = 1;
export const VIRTIO_BALLOON_S_MAJFLT = 2;
export const VIRTIO_BALLOON_S_MINFLT = 3;
export const VIRTIO_BALLOON_S_MEMFREE = 4;
export const VIRTIO_BALLOON_S_MEMTOT = 5;
export const VIRTIO_BALLOON_S_AVAIL = 6;
export const VIRTIO_BALLOON_S_CACHES = 7;
export const VIRTIO_BALLOON_S_HTLB_PGALLOC = 8;
export const VIRTIO_BALLOON_S_HTLB_PGFAIL = 9;
export const VIRTIO_BALLOON_S_NONSTANDARD_SHMEM = 65534;
export const VIRTIO_BALLOON_S_NONSTANDARD_UNEVICTABLE = 65535;
