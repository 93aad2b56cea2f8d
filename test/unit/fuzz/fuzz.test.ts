// The fuzz targets of fuzz/ at 100,000 iterations each, with fixed seeds so a finding reproduces with
// `bun run fuzz -- --target NAME --seed SEED --iterations N`.
import { describe, expect, test } from "bun:test";
import { fuzzBlockRequests } from "../../../fuzz/targets/block_request.ts";
import { fuzzFuseMessages } from "../../../fuzz/targets/fuse_message.ts";
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

  test("hostile FUSE requests: no crash, every chain used once, nothing beside the share touched, no descriptor kept", () => {
    const report = fuzzFuseMessages(ITERATIONS, SEED);
    expect(report.failures).toEqual([]);
    // The requests reached the operations: lookups and file I/O succeeded, and hostile ones were refused.
    expect(report.stats["ok:LOOKUP"]).toBeGreaterThan(0);
    expect(report.stats["ok:WRITE"]).toBeGreaterThan(0);
    expect(report.stats["ok:READDIRPLUS"]).toBeGreaterThan(0);
    expect(report.stats.errorReplies).toBeGreaterThan(0);
    expect(report.stats.refused).toBeGreaterThan(0);
  }, 60_000);

  test("hostile qcow2 headers and tables: only DiskErrors, bounded growth and memory", () => {
    const report = fuzzQcow2Images(ITERATIONS, SEED);
    expect(report.failures).toEqual([]);
    expect(report.stats.opened).toBeGreaterThan(0);
    expect(report.stats.refused).toBeGreaterThan(0);
  }, 90_000);
});
