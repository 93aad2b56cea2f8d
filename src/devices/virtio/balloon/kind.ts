// The virtio-balloon device kind (../kind.ts): one device unless --no-balloon, after rng (crosvm's device_order:
// ..., rng, pvclock, vtpm, input, balloon, net, ...). It has no files. The control socket reaches it as the
// "balloon" group: `crosvm balloon SIZE` sets the target (and with --wait resolves once the driver reports it
// reached), `crosvm balloon_stats` asks the driver for fresh statistics and answers with them and the balloon's
// size (crosvm's BalloonTubeResult::Stats).
import * as v from "valibot";
import type { ControlledDevice, DeviceControlReply } from "../kind.ts";
import { defineDeviceKind } from "../kind.ts";
import { BALLOON_PAGE_SIZE, BALLOON_QUEUE_SIZE } from "./constants.ts";
import {
  BalloonEvent,
  BalloonRequest,
  BalloonStatsReply,
  decodeActualEvent,
  decodeReport,
  encodeAdjust,
  type BalloonReport,
} from "./control.ts";
import { BALLOON_QUEUE_COUNT, VirtioBalloon } from "./device.ts";

/** The part of the VM configuration the balloon reads (the VMM's VmConfig has these fields). */
export interface BalloonVmConfig {
  readonly balloon: boolean;
  readonly balloonPageReporting: boolean;
  readonly memMib: number;
  readonly initMemMib?: number;
}

const pages = v.pipe(
  v.number("a page count"),
  v.integer("a page count"),
  v.minValue(0, "a page count"),
  v.maxValue(0xffff_ffff, "a page count (u32)"),
);

export const balloonOptionsSchema = v.strictObject(
  {
    pageReporting: v.boolean("a boolean"),
    /** num_pages at start. */
    initialPages: pages,
    /** Guest RAM in 4 KiB pages: the largest target `crosvm balloon` may set. */
    memoryPages: v.pipe(v.number("a page count"), v.integer("a page count"), v.minValue(0, "a page count")),
  },
  "an object",
);

export type BalloonOptions = v.InferOutput<typeof balloonOptionsSchema>;

const MIB_PAGES = (1024 * 1024) / BALLOON_PAGE_SIZE;

/**
 * How long `balloon_stats` waits for the driver to refill the stats buffer. Linux does it from a work item at
 * once; the nested TCG rig is some hundred times slower than a host.
 */
export const STATS_DEADLINE_MS = 10_000;

/** Listeners of one balloon's events (its proxy has a single onDeviceEvent slot). */
const listeners = new WeakMap<ControlledDevice, Set<(payload: Uint8Array) => void>>();

function listen(device: ControlledDevice, listener: (payload: Uint8Array) => void): () => void {
  let set = listeners.get(device);
  if (!set) {
    const created = new Set<(payload: Uint8Array) => void>();
    set = created;
    listeners.set(device, created);
    device.onDeviceEvent = (payload) => {
      for (const l of [...created]) l(payload);
    };
  }
  set.add(listener);
  return () => set.delete(listener);
}

/** Resolves with the first event `pick` maps to a value; rejects after `deadlineMs` (never, if undefined). */
function nextEvent<T>(
  device: ControlledDevice,
  pick: (payload: Uint8Array) => T | undefined,
  deadlineMs: number | undefined,
  timeoutMessage: string,
): { promise: Promise<T>; cancel(): void } {
  let cancel = () => {};
  const promise = new Promise<T>((resolve, reject) => {
    const timer =
      deadlineMs === undefined ? undefined : setTimeout(() => done(new Error(timeoutMessage)), deadlineMs);
    const stop = listen(device, (payload) => {
      const value = pick(payload);
      if (value !== undefined) done(undefined, value);
    });
    const done = (error: Error | undefined, value?: T) => {
      stop();
      if (timer) clearTimeout(timer);
      if (error) reject(error);
      else resolve(value as T);
    };
    cancel = () => {
      stop();
      if (timer) clearTimeout(timer);
    };
  });
  return { promise, cancel };
}

function reply(report: BalloonReport): DeviceControlReply {
  return { actualBytes: report.actualPages * BALLOON_PAGE_SIZE, stats: report.stats };
}

async function adjust(
  o: BalloonOptions,
  bytes: number,
  wait: boolean,
  device: ControlledDevice,
): Promise<void> {
  const target = Math.floor(bytes / BALLOON_PAGE_SIZE);
  if (target > o.memoryPages)
    throw new Error(
      `balloon size ${bytes} bytes is more than the guest's memory (${o.memoryPages * BALLOON_PAGE_SIZE} bytes)`,
    );
  // Listening before the request: the driver may answer before the request's reply has been read.
  const reached = wait
    ? nextEvent(
        device,
        (p) => (p[0] === BalloonEvent.Actual && decodeActualEvent(p) === target ? true : undefined),
        undefined,
        "",
      )
    : undefined;
  try {
    device.deviceRequest(encodeAdjust(target));
  } catch (e) {
    reached?.cancel();
    throw e;
  }
  if (reached) await reached.promise;
}

async function stats(device: ControlledDevice): Promise<DeviceControlReply> {
  const answer = nextEvent(
    device,
    (p) => (p[0] === BalloonEvent.Stats ? decodeReport(p) : undefined),
    STATS_DEADLINE_MS,
    `the guest did not answer the balloon stats request within ${STATS_DEADLINE_MS / 1000} s`,
  );
  let first: Uint8Array;
  try {
    first = device.deviceRequest(Uint8Array.of(BalloonRequest.Stats));
  } catch (e) {
    answer.cancel();
    throw e;
  }
  if (first[0] === BalloonStatsReply.Now) {
    answer.cancel();
    return reply(decodeReport(first));
  }
  return reply(await answer.promise);
}

export const balloonKind = defineDeviceKind({
  name: "balloon",
  policy: "balloon_device",
  schema: balloonOptionsSchema,
  queueSizes: Array.from({ length: BALLOON_QUEUE_COUNT }, () => BALLOON_QUEUE_SIZE),
  select: (config: BalloonVmConfig) =>
    config.balloon
      ? [
          {
            pageReporting: config.balloonPageReporting,
            initialPages:
              config.initMemMib === undefined ? 0 : (config.memMib - config.initMemMib) * MIB_PAGES,
            memoryPages: config.memMib * MIB_PAGES,
          },
        ]
      : [],
  prepare: () => ({ label: "virtio-balloon", backing: [] }),
  build: (o) => ({
    device: new VirtioBalloon({ pageReporting: o.pageReporting, initialPages: o.initialPages }),
  }),
  control: {
    group: "balloon",
    handle(o, request, device) {
      switch (request.type) {
        case "balloon-adjust":
          return adjust(o, request.bytes, request.wait, device).then(() => undefined);
        case "balloon-stats":
          return stats(device);
        default:
          throw new Error(`the balloon cannot ${request.type}`);
      }
    },
  },
});
