// `bun run fuzz -- [--iterations N] [--seed S] [--target NAME]` (NAME: block_request, qcow2_image, scsi_request,
// p9_message, fuse_message, balloon_queues, console_queues, input_queues, net_frames, pci_transport, run_options,
// cfg_files, control_messages): runs the fuzz targets and exits 1 when any finds something, printing each finding
// with the iteration that reproduces it. A seed gives the same inputs every run; the refused/failed counts may
// still differ, as the device log they are counted from is rate-limited. CI runs the same targets with 100,000
// iterations, the *_queues ones and net_frames with 50,000, pci_transport (whole driver sequences) with 10,000, the
// user-input ones fewer (test/unit/fuzz/fuzz.test.ts).
import { parseArgs } from "node:util";
import type { FuzzReport } from "./random.ts";
import { fuzzBalloonQueues } from "./targets/balloon_queues.ts";
import { fuzzBlockRequests } from "./targets/block_request.ts";
import { fuzzCfgFiles } from "./targets/cfg_files.ts";
import { fuzzControlMessages } from "./targets/control_messages.ts";
import { fuzzConsoleQueues } from "./targets/console_queues.ts";
import { fuzzInputQueues } from "./targets/input_queues.ts";
import { fuzzNetFrames } from "./targets/net_frames.ts";
import { fuzzFuseMessages } from "./targets/fuse_message.ts";
import { fuzzP9Messages } from "./targets/p9_message.ts";
import { fuzzPciTransport } from "./targets/pci_transport.ts";
import { fuzzQcow2Images } from "./targets/qcow2_image.ts";
import { fuzzRunOptions } from "./targets/run_options.ts";
import { fuzzScsiRequests } from "./targets/scsi_request.ts";

export const TARGETS: Readonly<Record<string, (iterations: number, seed: number) => FuzzReport>> = {
  block_request: fuzzBlockRequests,
  qcow2_image: fuzzQcow2Images,
  scsi_request: fuzzScsiRequests,
  p9_message: fuzzP9Messages,
  balloon_queues: fuzzBalloonQueues,
  console_queues: fuzzConsoleQueues,
  input_queues: fuzzInputQueues,
  net_frames: fuzzNetFrames,
  fuse_message: fuzzFuseMessages,
  pci_transport: fuzzPciTransport,
  run_options: fuzzRunOptions,
  cfg_files: fuzzCfgFiles,
  control_messages: fuzzControlMessages,
};

function positiveInteger(text: string, name: string): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < 0) {
    console.error(`fuzz: --${name} expects a non-negative integer, got "${text}"`);
    process.exit(2);
  }
  return n;
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Bun.argv.slice(2),
    options: {
      iterations: { type: "string", default: "100000" },
      seed: { type: "string", default: "1" },
      target: { type: "string" },
    },
  });
  const iterations = positiveInteger(values.iterations!, "iterations");
  const seed = positiveInteger(values.seed!, "seed");
  const names = values.target === undefined ? Object.keys(TARGETS) : [values.target];
  let found = 0;
  for (const name of names) {
    const target = TARGETS[name];
    if (!target) {
      console.error(`fuzz: unknown target "${name}" (expected one of: ${Object.keys(TARGETS).join(", ")})`);
      process.exit(2);
    }
    const start = performance.now();
    const report = target(iterations, seed);
    const seconds = ((performance.now() - start) / 1000).toFixed(1);
    console.log(
      `${name}: ${iterations} iterations, seed ${seed}, ${seconds} s, ${report.failures.length} findings ${JSON.stringify(report.stats)}`,
    );
    for (const f of report.failures) console.log(`  ${f}`);
    found += report.failures.length;
  }
  process.exit(found === 0 ? 0 : 1);
}
