// virtio-scsi numbers (virtio 1.2 section 5.6; Linux uapi include/uapi/linux/virtio_scsi.h) and the SCSI numbers
// the emulated disk uses (T10 SPC-4 / SBC-3: operation codes, status, sense keys, additional sense codes).

/** Queues (5.6.2): controlq, eventq, then the request queues (one here). */
export const CONTROL_QUEUE = 0;
export const EVENT_QUEUE = 1;
export const REQUEST_QUEUE = 2;
export const SCSI_QUEUE_SIZE = 256;

/** Default and accepted sizes of the CDB and sense fields (5.6.4: VIRTIO_SCSI_CDB_DEFAULT_SIZE, ..._SENSE_...). */
export const VIRTIO_SCSI_CDB_DEFAULT_SIZE = 32;
export const VIRTIO_SCSI_SENSE_DEFAULT_SIZE = 96;
/** The driver may write cdb_size and sense_size (5.6.4); outside these bounds a write is ignored. */
export const MIN_CDB_SIZE = 16;
export const MAX_CDB_SIZE = 256;
/** SPC-4 4.5.1: sense data is at most 252 bytes. */
export const MAX_SENSE_SIZE = 252;

/** struct virtio_scsi_config (5.6.4): le32 x7, le16 max_channel, le16 max_target, le32 max_lun. */
export const SCSI_CONFIG_SIZE = 36;
export const CONFIG_NUM_QUEUES = 0;
export const CONFIG_SEG_MAX = 4;
export const CONFIG_MAX_SECTORS = 8;
export const CONFIG_CMD_PER_LUN = 12;
export const CONFIG_EVENT_INFO_SIZE = 16;
export const CONFIG_SENSE_SIZE = 20;
export const CONFIG_CDB_SIZE = 24;
export const CONFIG_MAX_CHANNEL = 28;
export const CONFIG_MAX_TARGET = 30;
export const CONFIG_MAX_LUN = 32;
/** crosvm's values (devices/src/virtio/scsi/device.rs): targets 0..255, LUNs up to 16383, 128 commands per LUN. */
export const MAX_TARGET = 255;
export const MAX_LUN = 16383;
export const CMD_PER_LUN = 128;
/** Largest transfer of one command, in 512-byte sectors (QEMU's virtio-scsi max_sectors). */
export const MAX_SECTORS = 0xffff;
/** sizeof(struct virtio_scsi_event): le32 event, u8 lun[8], le32 reason. */
export const EVENT_INFO_SIZE = 16;

/** struct virtio_scsi_cmd_req without the CDB: u8 lun[8], le64 tag, u8 task_attr, prio, crn (5.6.6.1). */
export const CMD_REQ_HEADER_SIZE = 19;
/** struct virtio_scsi_cmd_resp without the sense: le32 sense_len, le32 resid, le16 status_qualifier, u8 status,
 * u8 response (5.6.6.1). */
export const CMD_RESP_HEADER_SIZE = 12;

/** Response codes (5.6.6.1). */
export const VIRTIO_SCSI_S_OK = 0;
export const VIRTIO_SCSI_S_FUNCTION_COMPLETE = 0;
export const VIRTIO_SCSI_S_OVERRUN = 1;
export const VIRTIO_SCSI_S_BAD_TARGET = 3;
export const VIRTIO_SCSI_S_FAILURE = 9;
export const VIRTIO_SCSI_S_FUNCTION_SUCCEEDED = 10;
export const VIRTIO_SCSI_S_FUNCTION_REJECTED = 11;
export const VIRTIO_SCSI_S_INCORRECT_LUN = 12;

/** controlq request types and TMF subtypes (5.6.6.2). */
export const VIRTIO_SCSI_T_TMF = 0;
export const VIRTIO_SCSI_T_AN_QUERY = 1;
export const VIRTIO_SCSI_T_AN_SUBSCRIBE = 2;
export const VIRTIO_SCSI_T_TMF_ABORT_TASK = 0;
export const VIRTIO_SCSI_T_TMF_ABORT_TASK_SET = 1;
export const VIRTIO_SCSI_T_TMF_CLEAR_ACA = 2;
export const VIRTIO_SCSI_T_TMF_CLEAR_TASK_SET = 3;
export const VIRTIO_SCSI_T_TMF_I_T_NEXUS_RESET = 4;
export const VIRTIO_SCSI_T_TMF_LOGICAL_UNIT_RESET = 5;
export const VIRTIO_SCSI_T_TMF_QUERY_TASK = 6;
export const VIRTIO_SCSI_T_TMF_QUERY_TASK_SET = 7;
/** struct virtio_scsi_ctrl_tmf_req: le32 type, le32 subtype, u8 lun[8], le64 tag; the response is one byte. */
export const TMF_REQ_SIZE = 24;
/** struct virtio_scsi_ctrl_an_req: le32 type, u8 lun[8], le32 event_requested; response le32 + u8. */
export const AN_REQ_SIZE = 16;
export const AN_RESP_SIZE = 5;

/** SCSI operation codes (SPC-4, SBC-3). */
export const TEST_UNIT_READY = 0x00;
export const REQUEST_SENSE = 0x03;
export const READ_6 = 0x08;
export const WRITE_6 = 0x0a;
export const INQUIRY = 0x12;
export const MODE_SENSE_6 = 0x1a;
export const READ_CAPACITY_10 = 0x25;
export const READ_10 = 0x28;
export const WRITE_10 = 0x2a;
export const SYNCHRONIZE_CACHE_10 = 0x35;
export const WRITE_SAME_10 = 0x41;
export const UNMAP = 0x42;
export const MODE_SENSE_10 = 0x5a;
export const READ_16 = 0x88;
export const WRITE_16 = 0x8a;
export const SYNCHRONIZE_CACHE_16 = 0x91;
export const WRITE_SAME_16 = 0x93;
export const SERVICE_ACTION_IN_16 = 0x9e;
/** SERVICE ACTION IN(16) service action (SBC-3 5.16). */
export const SAI_READ_CAPACITY_16 = 0x10;
export const REPORT_LUNS = 0xa0;

/** SAM-5 status codes. */
export const GOOD = 0x00;
export const CHECK_CONDITION = 0x02;

/** Sense keys (SPC-4 table 45). */
export const NO_SENSE = 0x0;
export const MEDIUM_ERROR = 0x3;
export const ILLEGAL_REQUEST = 0x5;
export const DATA_PROTECT = 0x7;

/** Peripheral device type: direct access block device (SPC-4 table 140). */
export const TYPE_DISK = 0x00;
/** INQUIRY byte 0 for a LUN with no logical unit: qualifier 011b, type 1Fh (SPC-4 6.6.2). */
export const NO_LOGICAL_UNIT = 0x7f;
