// The balloon's messages between its control hook in the VMM (kind.ts) and the model in the device process
// (device.ts), carried as the opaque payloads of the device-process protocol's DeviceRequest / EventDevice
// (src/jail/device_process/protocol.ts). Fixed little-endian fields:
//
//   request  ADJUST u8=1, u32 num_pages                     -> reply empty
//   request  STATS  u8=2                                    -> reply STATS_NOW + report, or STATS_PENDING
//   event    STATS  u8=1, report                             (the guest answered a pending stats request)
//   event    ACTUAL u8=2, u32 actual                         (the driver wrote `actual`)
//
//   report:  u32 actual pages, u32 mask of reported statistics (bit i: BALLOON_STAT_NAMES[i]), u64 value x 12
import { type BalloonGuestStats, BALLOON_STAT_NAMES, emptyBalloonStats } from "./stats.ts";

export const BalloonRequest = { Adjust: 1, Stats: 2 } as const;
export const BalloonStatsReply = { Now: 1, Pending: 2 } as const;
export const BalloonEvent = { Stats: 1, Actual: 2 } as const;

export interface BalloonReport {
  readonly actualPages: number;
  readonly stats: BalloonGuestStats;
}

export class BalloonMessageError extends Error {
  override name = "BalloonMessageError";
}

const REPORT_BYTES = 8 + 8 * BALLOON_STAT_NAMES.length;

function u32(bytes: Uint8Array, at: number): number {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(at, true);
}

export function encodeAdjust(numPages: number): Uint8Array {
  const out = new Uint8Array(5);
  out[0] = BalloonRequest.Adjust;
  new DataView(out.buffer).setUint32(1, numPages, true);
  return out;
}

/** The num_pages of an ADJUST request. */
export function decodeAdjust(msg: Uint8Array): number {
  if (msg.length !== 5 || msg[0] !== BalloonRequest.Adjust)
    throw new BalloonMessageError(`balloon adjust request is ${msg.length} bytes, expected 5`);
  return u32(msg, 1);
}

/** A one-byte tag followed by a report (a STATS_NOW reply or a STATS event). */
export function encodeReport(tag: number, report: BalloonReport): Uint8Array {
  const out = new Uint8Array(1 + REPORT_BYTES);
  const v = new DataView(out.buffer);
  out[0] = tag;
  v.setUint32(1, report.actualPages, true);
  let mask = 0;
  BALLOON_STAT_NAMES.forEach((name, i) => {
    const value = report.stats[name];
    if (value === null) return;
    mask |= 1 << i;
    v.setBigUint64(9 + 8 * i, BigInt(value), true);
  });
  v.setUint32(5, mask, true);
  return out;
}

/** The report after the tag byte of `msg`. */
export function decodeReport(msg: Uint8Array): BalloonReport {
  if (msg.length !== 1 + REPORT_BYTES)
    throw new BalloonMessageError(`balloon report is ${msg.length} bytes, expected ${1 + REPORT_BYTES}`);
  const v = new DataView(msg.buffer, msg.byteOffset, msg.byteLength);
  const mask = v.getUint32(5, true);
  const stats: Record<string, number | null> = { ...emptyBalloonStats() };
  BALLOON_STAT_NAMES.forEach((name, i) => {
    if (mask & (1 << i)) stats[name] = Number(v.getBigUint64(9 + 8 * i, true));
  });
  return { actualPages: v.getUint32(1, true), stats: stats as BalloonGuestStats };
}

export function encodeActualEvent(actualPages: number): Uint8Array {
  const out = new Uint8Array(5);
  out[0] = BalloonEvent.Actual;
  new DataView(out.buffer).setUint32(1, actualPages, true);
  return out;
}

/** The actual pages of an ACTUAL event. */
export function decodeActualEvent(msg: Uint8Array): number {
  if (msg.length !== 5)
    throw new BalloonMessageError(`balloon actual event is ${msg.length} bytes, expected 5`);
  return u32(msg, 1);
}
