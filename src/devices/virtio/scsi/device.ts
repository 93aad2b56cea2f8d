// virtio-scsi (virtio 1.2 section 5.6): a SCSI host with one target per --scsi-block disk, each disk LUN 0 of
// its target (crosvm's layout: devices/src/virtio/scsi/device.rs). Queues: controlq (task management, answered at
// once: every command completes before the next is popped, so there is never a task to abort), eventq (no events
// are sent: no hotplug) and one request queue. A request is framed here (virtio_scsi_cmd_req, data-out;
// virtio_scsi_cmd_resp, data-in), its CDB decoded by cdb.ts and executed by logical_unit.ts.
import { logger } from "../../../base/log.ts";
import type { DescriptorChain } from "../descriptor_chain.ts";
import { VIRTIO_ID_SCSI } from "../constants.ts";
import { Reader, Writer } from "../descriptor_utils.ts";
import { type ActiveState, BASE_FEATURES, VirtioDeviceBase } from "../device_base.ts";
import { processQueue } from "../process_queue.ts";
import type { Queue } from "../split_queue.ts";
import { CDB_DECODE_BYTES, decodeCdb } from "./cdb.ts";
import {
  AN_REQ_SIZE,
  AN_RESP_SIZE,
  CHECK_CONDITION,
  CMD_PER_LUN,
  CMD_REQ_HEADER_SIZE,
  CMD_RESP_HEADER_SIZE,
  CONFIG_CDB_SIZE,
  CONFIG_CMD_PER_LUN,
  CONFIG_EVENT_INFO_SIZE,
  CONFIG_MAX_CHANNEL,
  CONFIG_MAX_LUN,
  CONFIG_MAX_SECTORS,
  CONFIG_MAX_TARGET,
  CONFIG_NUM_QUEUES,
  CONFIG_SEG_MAX,
  CONFIG_SENSE_SIZE,
  CONTROL_QUEUE,
  EVENT_INFO_SIZE,
  GOOD,
  MAX_CDB_SIZE,
  MAX_LUN,
  MAX_SECTORS,
  MAX_SENSE_SIZE,
  MAX_TARGET,
  MIN_CDB_SIZE,
  REQUEST_QUEUE,
  SCSI_CONFIG_SIZE,
  SCSI_QUEUE_SIZE,
  TMF_REQ_SIZE,
  VIRTIO_SCSI_CDB_DEFAULT_SIZE,
  VIRTIO_SCSI_SENSE_DEFAULT_SIZE,
  VIRTIO_SCSI_S_BAD_TARGET,
  VIRTIO_SCSI_S_FAILURE,
  VIRTIO_SCSI_S_FUNCTION_COMPLETE,
  VIRTIO_SCSI_S_FUNCTION_REJECTED,
  VIRTIO_SCSI_S_INCORRECT_LUN,
  VIRTIO_SCSI_S_OK,
  VIRTIO_SCSI_S_OVERRUN,
  VIRTIO_SCSI_T_AN_QUERY,
  VIRTIO_SCSI_T_AN_SUBSCRIBE,
  VIRTIO_SCSI_T_TMF,
  VIRTIO_SCSI_T_TMF_CLEAR_ACA,
} from "./constants.ts";
import { LogicalUnit, type Outcome, absentUnit } from "./logical_unit.ts";
import { FIXED_SENSE_SIZE, fixedSense } from "./sense.ts";

/** Where a request names its logical unit: a target that exists, and whether the LUN is 0 (the disk). */
export type LunAddress = { readonly target: number; readonly lun0: boolean } | undefined;

/**
 * Decodes the 8-byte LUN field (5.6.6.1: byte 0 is 1, byte 1 the target, bytes 2-3 the LUN in the single-level
 * flat or peripheral format, bytes 4-7 zero). Undefined when it does not address a target of `targets`.
 */
export function decodeLun(lun: Uint8Array, targets: number): LunAddress {
  if (lun[0] !== 1 || lun[1]! >= targets) return undefined;
  const method = lun[2]! >> 6;
  const number = ((lun[2]! & 0x3f) << 8) | lun[3]!;
  const rest = lun[4]! | lun[5]! | lun[6]! | lun[7]!;
  return { target: lun[1]!, lun0: method <= 1 && number === 0 && rest === 0 };
}

export class ScsiFramingError extends Error {
  constructor(reason: string) {
    super(`virtio-scsi request has no place for a response: ${reason}`);
    this.name = "ScsiFramingError";
  }
}

export class VirtioScsi extends VirtioDeviceBase {
  readonly debugLabel: string;
  readonly deviceType = VIRTIO_ID_SCSI;
  readonly queueMaxSizes = [SCSI_QUEUE_SIZE, SCSI_QUEUE_SIZE, SCSI_QUEUE_SIZE];
  protected readonly log = logger("devices::virtio::scsi");
  readonly units: readonly LogicalUnit[];
  #senseSize = VIRTIO_SCSI_SENSE_DEFAULT_SIZE;
  #cdbSize = VIRTIO_SCSI_CDB_DEFAULT_SIZE;
  /** The CDB's first bytes, zero-padded (reused from request to request). */
  readonly #cdb = new Uint8Array(CDB_DECODE_BYTES);
  readonly #requestHandler = (chain: DescriptorChain) => this.handleRequest(chain);
  readonly #controlHandler = (chain: DescriptorChain) => this.handleControl(chain);

  constructor(units: readonly LogicalUnit[]) {
    super();
    if (units.length === 0 || units.length > MAX_TARGET + 1)
      throw new RangeError(`virtio-scsi takes 1 to ${MAX_TARGET + 1} disks, got ${units.length}`);
    this.units = units;
    this.debugLabel = `virtio-scsi ${units.map((u) => u.disk.path).join(", ")}`;
  }

  get senseSize(): number {
    return this.#senseSize;
  }

  get cdbSize(): number {
    return this.#cdbSize;
  }

  features(): bigint {
    // No device feature bits: no bidirectional commands, hotplug, change events or protection information.
    return BASE_FEATURES;
  }

  /** struct virtio_scsi_config (5.6.4), little-endian. */
  configSpace(): Uint8Array {
    const c = new Uint8Array(SCSI_CONFIG_SIZE);
    const v = new DataView(c.buffer);
    v.setUint32(CONFIG_NUM_QUEUES, this.queueMaxSizes.length - 2, true);
    // seg_max: data descriptors of one command, leaving room for the request and response (as virtio-blk).
    v.setUint32(CONFIG_SEG_MAX, SCSI_QUEUE_SIZE - 2, true);
    v.setUint32(CONFIG_MAX_SECTORS, MAX_SECTORS, true);
    v.setUint32(CONFIG_CMD_PER_LUN, CMD_PER_LUN, true);
    v.setUint32(CONFIG_EVENT_INFO_SIZE, EVENT_INFO_SIZE, true);
    v.setUint32(CONFIG_SENSE_SIZE, this.#senseSize, true);
    v.setUint32(CONFIG_CDB_SIZE, this.#cdbSize, true);
    v.setUint16(CONFIG_MAX_CHANNEL, 0, true);
    v.setUint16(CONFIG_MAX_TARGET, MAX_TARGET, true);
    v.setUint32(CONFIG_MAX_LUN, MAX_LUN, true);
    return c;
  }

  readConfig(offset: number, data: Uint8Array): void {
    const c = this.configSpace();
    for (let i = 0; i < data.length; i++) data[i] = c[offset + i] ?? 0;
  }

  /** Only sense_size and cdb_size are writable (5.6.4); a value outside their bounds is ignored. */
  override writeConfig(offset: number, data: Uint8Array): void {
    const c = this.configSpace();
    if (offset < 0 || offset + data.length > c.length) return;
    c.set(data, offset);
    const v = new DataView(c.buffer);
    const sense = v.getUint32(CONFIG_SENSE_SIZE, true);
    const cdb = v.getUint32(CONFIG_CDB_SIZE, true);
    if (sense <= MAX_SENSE_SIZE) this.#senseSize = sense;
    else this.guestLog.warn("config", `sense_size ${sense} ignored (at most ${MAX_SENSE_SIZE})`);
    if (cdb >= MIN_CDB_SIZE && cdb <= MAX_CDB_SIZE) this.#cdbSize = cdb;
    else this.guestLog.warn("config", `cdb_size ${cdb} ignored (${MIN_CDB_SIZE} to ${MAX_CDB_SIZE})`);
  }

  override reset(): void {
    super.reset();
    // 5.6.4.1: sense_size and cdb_size return to their defaults on reset.
    this.#senseSize = VIRTIO_SCSI_SENSE_DEFAULT_SIZE;
    this.#cdbSize = VIRTIO_SCSI_CDB_DEFAULT_SIZE;
  }

  protected processQueue(index: number, queue: Queue, active: ActiveState): void {
    // The event queue keeps the driver's buffers: no event is ever sent.
    if (index === REQUEST_QUEUE) processQueue(queue, active.interrupt, this.#requestHandler, this.guestLog);
    else if (index === CONTROL_QUEUE)
      processQueue(queue, active.interrupt, this.#controlHandler, this.guestLog);
  }

  /** One command on the request queue; returns the bytes written to the chain's device-writable buffers. */
  handleRequest(chain: DescriptorChain): number {
    const writer = Writer.of(chain);
    if (writer.available < CMD_RESP_HEADER_SIZE)
      throw new ScsiFramingError(`${writer.available} device-writable bytes`);
    const senseRoom = Math.min(this.#senseSize, writer.available - CMD_RESP_HEADER_SIZE);
    const dataIn = writer.splitAt(CMD_RESP_HEADER_SIZE + this.#senseSize);
    const reader = Reader.of(chain);
    const headerBytes = CMD_REQ_HEADER_SIZE + this.#cdbSize;
    if (reader.available < headerBytes) {
      this.guestLog.warn("bad request", `request of ${reader.available} bytes, expected ${headerBytes}`);
      return this.#respond(writer, senseRoom, VIRTIO_SCSI_S_FAILURE, undefined, dataIn.available);
    }
    const dataOut = reader.splitAt(headerBytes);
    const lun = reader.readExact(8, "LUN");
    reader.consume(CMD_REQ_HEADER_SIZE - 8); // tag, task_attr, prio, crn
    const cdb = this.#cdb;
    cdb.fill(0);
    reader.readInto(cdb.subarray(0, Math.min(CDB_DECODE_BYTES, this.#cdbSize)));
    const address = decodeLun(lun, this.units.length);
    if (address === undefined)
      return this.#respond(
        writer,
        senseRoom,
        VIRTIO_SCSI_S_BAD_TARGET,
        undefined,
        dataIn.available + dataOut.available,
      );
    const decoded = decodeCdb(cdb);
    let outcome: Outcome;
    if (decoded.op === "refused") outcome = { kind: "check", sense: decoded.sense, reason: decoded.reason };
    else if (!address.lun0) outcome = absentUnit(decoded, dataIn);
    else outcome = this.units[address.target]!.execute(decoded, dataOut, dataIn);
    const resid = dataIn.available + dataOut.available;
    if (outcome.kind === "overrun") {
      this.guestLog.warn("overrun", `target ${address.target}: ${outcome.reason}`);
      return this.#respond(writer, senseRoom, VIRTIO_SCSI_S_OVERRUN, undefined, resid);
    }
    // Guest mistakes (and Linux's probing of optional commands) at debug level; failed host I/O as a warning.
    if (outcome.kind === "check" && outcome.reason !== "")
      this.guestLog.log(
        outcome.failed ? "warn" : "debug",
        "check condition",
        `target ${address.target}: ${outcome.reason}`,
      );
    const sense = outcome.kind === "check" ? fixedSense(outcome.sense) : undefined;
    return this.#respond(writer, senseRoom, VIRTIO_SCSI_S_OK, sense, resid) + dataIn.bytesWritten;
  }

  /** Writes virtio_scsi_cmd_resp (GOOD, or CHECK CONDITION with `sense`); returns the bytes it covers. */
  #respond(
    writer: Writer,
    senseRoom: number,
    response: number,
    sense: Uint8Array | undefined,
    resid: number,
  ) {
    const h = new Uint8Array(CMD_RESP_HEADER_SIZE);
    const v = new DataView(h.buffer);
    const senseLen = sense ? Math.min(FIXED_SENSE_SIZE, senseRoom) : 0;
    v.setUint32(0, senseLen, true);
    v.setUint32(4, Math.min(resid, 0xffff_ffff), true);
    h[10] = sense ? CHECK_CONDITION : GOOD;
    h[11] = response;
    writer.writeAll(h, "response");
    if (sense) writer.write(sense.subarray(0, senseLen));
    // The sense field is senseRoom bytes whatever its content (the data-in buffer follows it).
    writer.slices(senseRoom - senseLen);
    return writer.bytesWritten;
  }

  /** One task-management or asynchronous-notification request on the control queue. */
  handleControl(chain: DescriptorChain): number {
    const reader = Reader.of(chain);
    const writer = Writer.of(chain);
    if (reader.available < 4) throw new ScsiFramingError(`control request of ${reader.available} bytes`);
    const type = reader.readU32("control type");
    if (type === VIRTIO_SCSI_T_TMF) {
      if (reader.available < TMF_REQ_SIZE - 4 || writer.available < 1)
        throw new ScsiFramingError("task management request or response too short");
      const subtype = reader.readU32("TMF subtype");
      const address = decodeLun(reader.readExact(8, "LUN"), this.units.length);
      writer.writeU8(this.#taskManagement(subtype, address));
      return 1;
    }
    if (type === VIRTIO_SCSI_T_AN_QUERY || type === VIRTIO_SCSI_T_AN_SUBSCRIBE) {
      if (reader.available < AN_REQ_SIZE - 4 || writer.available < AN_RESP_SIZE)
        throw new ScsiFramingError("notification request or response too short");
      // No asynchronous events are supported: event_actual 0.
      writer.writeAll(Uint8Array.of(0, 0, 0, 0, VIRTIO_SCSI_S_OK), "notification response");
      return AN_RESP_SIZE;
    }
    throw new ScsiFramingError(`control request type ${type}`);
  }

  #taskManagement(subtype: number, address: LunAddress): number {
    if (address === undefined) return VIRTIO_SCSI_S_BAD_TARGET;
    if (!address.lun0) return VIRTIO_SCSI_S_INCORRECT_LUN;
    // Commands complete before the next one is read: aborts, resets and queries find no task (FUNCTION COMPLETE).
    if (subtype === VIRTIO_SCSI_T_TMF_CLEAR_ACA || subtype > 7) return VIRTIO_SCSI_S_FUNCTION_REJECTED;
    return VIRTIO_SCSI_S_FUNCTION_COMPLETE;
  }
}
