// Numbers from the virtio 1.2 specification (OASIS, virtio-v1.2-cs01), in one place.

/** Device status bits (2.1 "Device Status Field"). */
export const VIRTIO_STATUS_ACKNOWLEDGE = 1;
export const VIRTIO_STATUS_DRIVER = 2;
export const VIRTIO_STATUS_DRIVER_OK = 4;
export const VIRTIO_STATUS_FEATURES_OK = 8;
export const VIRTIO_STATUS_DEVICE_NEEDS_RESET = 0x40;
export const VIRTIO_STATUS_FAILED = 0x80;

/** Reserved feature bits (6 "Reserved Feature Bits"), as bit numbers. */
export const VIRTIO_F_INDIRECT_DESC = 28;
export const VIRTIO_RING_F_EVENT_IDX = 29;
export const VIRTIO_F_VERSION_1 = 32;

/** The feature mask with bit `n` set. */
export const featureBit = (n: number): bigint => 1n << BigInt(n);

/** Virtqueue descriptor flags (2.7.5 "The Virtqueue Descriptor Table"). */
export const VIRTQ_DESC_F_NEXT = 1;
export const VIRTQ_DESC_F_WRITE = 2;
export const VIRTQ_DESC_F_INDIRECT = 4;
/** Size of struct virtq_desc: le64 addr, le32 len, le16 flags, le16 next (2.7.5). */
export const VIRTQ_DESC_SIZE = 16;

/** Driver-area flag (2.7.6 "The Virtqueue Available Ring"). */
export const VIRTQ_AVAIL_F_NO_INTERRUPT = 1;
/** Device-area flag (2.7.8 "The Virtqueue Used Ring"). */
export const VIRTQ_USED_F_NO_NOTIFY = 1;
/** Size of struct virtq_used_elem: le32 id, le32 len (2.7.8). */
export const VIRTQ_USED_ELEM_SIZE = 8;

/** Largest queue size a split ring may have (2.7 "Split Virtqueues": "Queue Size ... maximum 32768"). */
export const VIRTQ_MAX_SIZE = 32768;

/** Device IDs (5 "Device Types"). */
export const VIRTIO_ID_NET = 1;
export const VIRTIO_ID_BLOCK = 2;
export const VIRTIO_ID_CONSOLE = 3;
export const VIRTIO_ID_RNG = 4;
export const VIRTIO_ID_BALLOON = 5;
export const VIRTIO_ID_SCSI = 8;
export const VIRTIO_ID_VSOCK = 19;

/** MSI-X "no vector" (4.1.4.3 / 4.1.5.1.2 "VIRTIO_MSI_NO_VECTOR"). */
export const VIRTIO_MSI_NO_VECTOR = 0xffff;

/** ISR status bits (4.1.4.5 "ISR status capability"). */
export const VIRTIO_ISR_QUEUE = 1;
export const VIRTIO_ISR_CONFIG = 2;
