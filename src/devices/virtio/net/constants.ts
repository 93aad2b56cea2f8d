// Numbers of the virtio network device (virtio 1.2 section 5.1; include/uapi/linux/virtio_net.h).

/** Feature bits (5.1.3), as bit numbers. */
export const VIRTIO_NET_F_CSUM = 0;
export const VIRTIO_NET_F_GUEST_CSUM = 1;
export const VIRTIO_NET_F_CTRL_GUEST_OFFLOADS = 2;
export const VIRTIO_NET_F_MTU = 3;
export const VIRTIO_NET_F_MAC = 5;
export const VIRTIO_NET_F_GUEST_TSO4 = 7;
export const VIRTIO_NET_F_GUEST_TSO6 = 8;
export const VIRTIO_NET_F_GUEST_ECN = 9;
export const VIRTIO_NET_F_GUEST_UFO = 10;
export const VIRTIO_NET_F_HOST_TSO4 = 11;
export const VIRTIO_NET_F_HOST_TSO6 = 12;
export const VIRTIO_NET_F_HOST_ECN = 13;
export const VIRTIO_NET_F_MRG_RXBUF = 15;
export const VIRTIO_NET_F_STATUS = 16;
export const VIRTIO_NET_F_CTRL_VQ = 17;
export const VIRTIO_NET_F_MQ = 22;

/** struct virtio_net_config (5.1.4): mac[6], le16 status, le16 max_virtqueue_pairs, le16 mtu. */
export const CONFIG_MAC = 0;
export const CONFIG_STATUS = 6;
export const CONFIG_MAX_VQ_PAIRS = 8;
export const CONFIG_MTU = 10;
export const CONFIG_SIZE = 12;
export const VIRTIO_NET_S_LINK_UP = 1;

/**
 * struct virtio_net_hdr_v1 (5.1.6): u8 flags, u8 gso_type, le16 hdr_len, le16 gso_size, le16 csum_start,
 * le16 csum_offset, le16 num_buffers. 12 bytes whenever VIRTIO_F_VERSION_1 is negotiated (always here).
 */
export const NET_HDR_SIZE = 12;
export const HDR_FLAGS = 0;
export const HDR_GSO_TYPE = 1;
export const HDR_HDR_LEN = 2;
export const HDR_GSO_SIZE = 4;
export const HDR_CSUM_START = 6;
export const HDR_CSUM_OFFSET = 8;
export const HDR_NUM_BUFFERS = 10;

export const VIRTIO_NET_HDR_F_NEEDS_CSUM = 1;
export const VIRTIO_NET_HDR_F_DATA_VALID = 2;
export const VIRTIO_NET_HDR_GSO_NONE = 0;
export const VIRTIO_NET_HDR_GSO_TCPV4 = 1;
export const VIRTIO_NET_HDR_GSO_UDP = 3;
export const VIRTIO_NET_HDR_GSO_TCPV6 = 4;
export const VIRTIO_NET_HDR_GSO_ECN = 0x80;

/** Control queue (5.1.6.5): struct virtio_net_ctrl { u8 class; u8 command; } data, then u8 ack. */
export const VIRTIO_NET_OK = 0;
export const VIRTIO_NET_ERR = 1;
/** Classes whose features are not offered (5.1.6.5.1-5.1.6.5.4): the device answers them VIRTIO_NET_ERR. */
export const VIRTIO_NET_CTRL_RX = 0;
/** The last RX command (PROMISC 0 ... NOBCAST 5); each takes one on/off byte. */
export const VIRTIO_NET_CTRL_RX_NOBCAST = 5;
export const VIRTIO_NET_CTRL_MAC = 1;
export const VIRTIO_NET_CTRL_MAC_TABLE_SET = 0;
export const VIRTIO_NET_CTRL_MAC_ADDR_SET = 1;
export const VIRTIO_NET_CTRL_VLAN = 2;
export const VIRTIO_NET_CTRL_ANNOUNCE = 3;
export const VIRTIO_NET_CTRL_ANNOUNCE_ACK = 0;
export const VIRTIO_NET_CTRL_MQ = 4;
export const VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET = 0;
/** RSS is not offered either (5.1.6.5.7). */
export const VIRTIO_NET_CTRL_MQ_RSS_CONFIG = 1;
/** 5.1.6.5.5: "virtqueue_pairs ... between 1 and 0x8000". */
export const VIRTIO_NET_CTRL_MQ_VQ_PAIRS_MIN = 1;
export const VIRTIO_NET_CTRL_GUEST_OFFLOADS = 5;
export const VIRTIO_NET_CTRL_GUEST_OFFLOADS_SET = 0;

/** Ethernet: header, one VLAN tag, the smallest frame Linux sends (ETH_HLEN), the default MTU. */
export const ETH_HLEN = 14;
export const VLAN_HLEN = 4;
export const DEFAULT_MTU = 1500;
/**
 * Largest frame with its offload header: a 64 KiB GSO packet (IP's 16-bit total length) after its Ethernet and
 * VLAN headers. Longer frames from the guest are dropped; a TAP never gives longer ones.
 */
export const MAX_FRAME_BYTES = NET_HDR_SIZE + ETH_HLEN + VLAN_HLEN + 0xffff;

/** Queue size of every rx, tx and control queue (crosvm's QUEUE_SIZE for net is 256). */
export const NET_QUEUE_SIZE = 256;
/** Most queue pairs one NIC may have (each is a TAP queue and two virtqueues). */
export const MAX_VQ_PAIRS = 16;
