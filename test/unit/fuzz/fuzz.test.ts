// The fuzz targets of fuzz/ at 100,000 iterations each (the small devices' queues and virtio-net at 50,000, the PCI
// transport's driver sequences at 10,000), with fixed seeds so a finding reproduces with
// `bun run fuzz -- --target NAME --seed SEED --iterations N`.
import { describe, expect, test } from "bun:test";
import type { FuzzReport } from "../../../fuzz/random.ts";
import { fuzzBalloonQueues } from "../../../fuzz/targets/balloon_queues.ts";
import { fuzzBlockRequests } from "../../../fuzz/targets/block_request.ts";
import { fuzzCfgFiles } from "../../../fuzz/targets/cfg_files.ts";
import { fuzzControlMessages } from "../../../fuzz/targets/control_messages.ts";
import { fuzzConsoleQueues } from "../../../fuzz/targets/console_queues.ts";
import { fuzzInputQueues } from "../../../fuzz/targets/input_queues.ts";
import { fuzzNetFrames } from "../../../fuzz/targets/net_frames.ts";
import { fuzzFuseMessages } from "../../../fuzz/targets/fuse_message.ts";
import { fuzzP9Messages } from "../../../fuzz/targets/p9_message.ts";
import { fuzzPciTransport } from "../../../fuzz/targets/pci_transport.ts";
import { fuzzQcow2Images } from "../../../fuzz/targets/qcow2_image.ts";
import { fuzzRunOptions } from "../../../fuzz/targets/run_options.ts";
import { fuzzScsiRequests } from "../../../fuzz/targets/scsi_request.ts";

const ITERATIONS = 100_000;
const SEED = 0x5eed_0014;

/** The counts among `paths` that a run never made: paths of the device it did not reach. */
const unreached = (report: FuzzReport, paths: readonly string[]) =>
  paths.filter((path) => !report.stats[path]);

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
    expect(unreached(report, pathsReached)).toEqual([]);
  }, 90_000);
});

/** Fewer iterations for the small devices' queues: each test stays within ~20 s on a busy CI host. */
const QUEUE_ITERATIONS = 50_000;

describe("guest-written queues of small devices (50,000 iterations each)", () => {
  test("hostile virtio-balloon queues: the host takes back only RAM the guest offered; sizes within RAM", () => {
    const report = fuzzBalloonQueues(QUEUE_ITERATIONS, SEED);
    expect(report.failures).toEqual([]);
    expect(report.stats.framesGivenBack).toBeGreaterThan(0);
    expect(report.stats.offeredOutsideRam).toBeGreaterThan(0);
    expect(report.stats.tooManyFrames).toBeGreaterThan(0);
    expect(report.stats.reportedBytesGivenBack).toBeGreaterThan(0);
    expect(report.stats.statsAnswered).toBeGreaterThan(0);
  }, 60_000);

  test("hostile virtio-console queues: output reaches the host byte-exact, input fills buffers in order", () => {
    const report = fuzzConsoleQueues(QUEUE_ITERATIONS, SEED);
    expect(report.failures).toEqual([]);
    expect(report.stats.chunkedOutput).toBeGreaterThan(0);
    expect(report.stats.receivedChecked).toBeGreaterThan(0);
    expect(report.stats.refused).toBeGreaterThan(0);
  }, 60_000);

  test("hostile virtio-input queues: only listed status events reach the source, events fill buffers", () => {
    const report = fuzzInputQueues(QUEUE_ITERATIONS, SEED);
    expect(report.failures).toEqual([]);
    expect(report.stats.statusPassedOn).toBeGreaterThan(0);
    expect(report.stats.longStatusChains).toBeGreaterThan(0);
    expect(report.stats.smallEventBuffers).toBeGreaterThan(0);
  }, 60_000);
});

/** Each iteration is a whole driver sequence of some hundred bus accesses: 10,000 stay within ~20 s on a busy host. */
const PCI_ITERATIONS = 10_000;

describe("the PCI side of virtio devices (10,000 sequences)", () => {
  test("hostile configuration and BAR accesses: no throw, reads fill their bytes, only valid queues activate, vectors stay in the table, only offered features", () => {
    const report = fuzzPciTransport(PCI_ITERATIONS, SEED);
    const pathsReached = [
      "barsSized",
      "upperHalvesSized",
      "queuesActivated",
      "needsReset",
      "featuresOkRefused",
      "queueSizesRefused",
      "vectorsSet",
      "vectorsRefused",
      "msixSent",
      "intxInterrupts",
      "usedNotifications",
    ];
    expect(report.failures).toEqual([]);
    expect(unreached(report, pathsReached)).toEqual([]);
  }, 60_000);
});

// What users hand the VMM, with iterations for ~10 s each on a busy CI host (a --cfg iteration writes three files).
describe("user input: command line, --cfg files, control requests", () => {
  test("hostile `crosvm run` arguments: accepted with safe integers, or refused in one line naming the input", () => {
    const report = fuzzRunOptions(40_000, SEED);
    expect(report.failures).toEqual([]);
    expect(report.stats.accepted).toBeGreaterThan(0);
    expect(report.stats.refused).toBeGreaterThan(0);
  }, 60_000);

  test("hostile --cfg files: refused in one line naming the file, no repeated key accepted, no prototype polluted", () => {
    const report = fuzzCfgFiles(6_000, SEED);
    expect(report.failures).toEqual([]);
    expect(report.stats.accepted).toBeGreaterThan(0);
    expect(report.stats.refused).toBeGreaterThan(0);
    expect(report.stats.includeCycles).toBeGreaterThan(0);
  }, 60_000);

  test("hostile control packets: refused with a short one-line error, bounded memory, the next request served", () => {
    const report = fuzzControlMessages(40_000, SEED);
    expect(report.failures).toEqual([]);
    expect(report.stats.accepted).toBeGreaterThan(0);
    expect(report.stats["refused:too-large"]).toBeGreaterThan(0);
    expect(report.stats["refused:invalid-fields"]).toBeGreaterThan(0);
  }, 60_000);
});
