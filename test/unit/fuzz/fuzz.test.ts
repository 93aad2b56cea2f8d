// The fuzz targets of fuzz/ at 100,000 iterations each, with fixed seeds so a finding reproduces with
// `bun run fuzz -- --target NAME --seed SEED --iterations N`.
import { describe, expect, test } from "bun:test";
import { fuzzBlockRequests } from "../../../fuzz/targets/block_request.ts";
import { fuzzNetFrames } from "../../../fuzz/targets/net_frames.ts";
import { fuzzP9Messages } from "../../../fuzz/targets/p9_message.ts";
import { fuzzQcow2Images } from "../../../fuzz/targets/qcow2_image.ts";
import { fuzzScsiRequests } from "../../../fuzz/targets/scsi_request.ts";

const ITERATIONS = 100_000;
const SEED = 0x5eed_0014;

describe("fuzz targets (100,000 iterations each)", () => {
  test("hostile virtio-blk requests: no crash, every chain used once, only guest-input errors", () => {
    const report = fuzzBlockRequests(ITERATIONS, SEED);
    expect(report.failures).toEqual([]);
    expect(report.stats.indirect).toBeGreaterThan(0);
    expect(report.stats.failed).toBeGreaterThan(0);
  }, 60_000);

  test("hostile virtio-scsi requests: no crash, every chain used once, only guest-input errors", () => {
    const report = fuzzScsiRequests(ITERATIONS, SEED);
    expect(report.failures).toEqual([]);
    expect(report.stats.indirect).toBeGreaterThan(0);
    expect(report.stats.refused).toBeGreaterThan(0);
  }, 90_000);

  test("hostile 9P2000.L messages: no crash, every chain used once, nothing beside the share touched", () => {
    const report = fuzzP9Messages(ITERATIONS, SEED);
    expect(report.failures).toEqual([]);
    expect(report.stats.indirect).toBeGreaterThan(0);
    expect(report.stats.namesInShare).toBeGreaterThan(2);
  }, 60_000);

  test("hostile qcow2 headers and tables: only DiskErrors, bounded growth and memory", () => {
    const report = fuzzQcow2Images(ITERATIONS, SEED);
    expect(report.failures).toEqual([]);
    expect(report.stats.opened).toBeGreaterThan(0);
    expect(report.stats.refused).toBeGreaterThan(0);
  }, 90_000);

  test("hostile virtio-net frames, control commands and rx buffers: the TAP gets the guest's bytes, acks per 5.1.6.5, writes stay in the chains", () => {
    // Half the others' iterations: each chain's check compares the whole guest memory.
    const report = fuzzNetFrames(ITERATIONS / 2, SEED);
    const pathsReached = [
      "tx.sentSegmented",
      "tx.dropped",
      "ctrl.pairsSet",
      "ctrl.offloadsSet",
      "ctrl.noRoomForAck",
      "rx.deliveredMerged",
      "rx.numBuffersSplit",
      "rx.droppedPastQueue",
      "rx.readOnlyChains",
    ];
    expect(report.failures).toEqual([]);
    expect(pathsReached.filter((path) => !report.stats[path])).toEqual([]);
  }, 90_000);
});
