// virtio-blk numbers (virtio 1.2 section 5.2).

/** Feature bits (5.2.3). */
export const VIRTIO_BLK_F_SIZE_MAX = 1;
export const VIRTIO_BLK_F_SEG_MAX = 2;
export const VIRTIO_BLK_F_GEOMETRY = 4;
export const VIRTIO_BLK_F_RO = 5;
export const VIRTIO_BLK_F_BLK_SIZE = 6;
export const VIRTIO_BLK_F_FLUSH = 9;
export const VIRTIO_BLK_F_TOPOLOGY = 10;
export const VIRTIO_BLK_F_CONFIG_WCE = 11;
export const VIRTIO_BLK_F_MQ = 12;
export const VIRTIO_BLK_F_DISCARD = 13;
export const VIRTIO_BLK_F_WRITE_ZEROES = 14;

/** Request types (5.2.6). */
export const VIRTIO_BLK_T_IN = 0;
export const VIRTIO_BLK_T_OUT = 1;
export const VIRTIO_BLK_T_FLUSH = 4;
export const VIRTIO_BLK_T_GET_ID = 8;
export const VIRTIO_BLK_T_DISCARD = 11;
export const VIRTIO_BLK_T_WRITE_ZEROES = 13;

/** Status byte values (5.2.6). */
export const VIRTIO_BLK_S_OK = 0;
export const VIRTIO_BLK_S_IOERR = 1;
export const VIRTIO_BLK_S_UNSUPP = 2;

/** Sectors are always 512 bytes in requests and capacity (5.2.4: "capacity ... in 512-byte sectors"). */
export const SECTOR_SHIFT = 9;
export const SECTOR_SIZE = 512;
/** struct virtio_blk_req header: le32 type, le32 reserved, le64 sector (5.2.6). */
export const REQUEST_HEADER_SIZE = 16;
/** struct virtio_blk_discard_write_zeroes: le64 sector, le32 num_sectors, le32 flags (5.2.6). */
export const DISCARD_SEGMENT_SIZE = 16;
export const VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP = 1;
/** Segments per discard/write-zeroes request (crosvm's MAX_DISCARD_SEG / MAX_WRITE_ZEROES_SEG; config max_discard_seg). */
export const MAX_DISCARD_SEGMENTS = 32;
/** GET_ID returns a 20-byte serial (5.2.6: "VIRTIO_BLK_ID_BYTES"). */
export const VIRTIO_BLK_ID_BYTES = 20;

/** struct virtio_blk_config field offsets (5.2.4). */
export const CONFIG_CAPACITY = 0;
export const CONFIG_SIZE_MAX = 8;
export const CONFIG_SEG_MAX = 12;
export const CONFIG_BLK_SIZE = 20;
export const CONFIG_PHYSICAL_BLOCK_EXP = 24;
export const CONFIG_MIN_IO_SIZE = 26;
export const CONFIG_OPT_IO_SIZE = 28;
export const CONFIG_NUM_QUEUES = 34;
export const CONFIG_MAX_DISCARD_SECTORS = 36;
export const CONFIG_MAX_DISCARD_SEG = 40;
export const CONFIG_DISCARD_SECTOR_ALIGNMENT = 44;
export const CONFIG_MAX_WRITE_ZEROES_SECTORS = 48;
export const CONFIG_MAX_WRITE_ZEROES_SEG = 52;
export const CONFIG_WRITE_ZEROES_MAY_UNMAP = 56;
export const BLOCK_CONFIG_SIZE = 60;
