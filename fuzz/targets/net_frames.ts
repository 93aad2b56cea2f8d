// Fuzz target: virtio-net from a hostile driver, in three parts of equal length, each on its own NICs (new ones
// every few hundred chains, with other pairs and features): transmitted frames and their offload headers
// (net/tx.ts), control commands (net/ctrl.ts) and receive buffers for frames from the TAP (net/rx.ts). The chain
// fuzzer makes the chains and makes its checks; each part checks what reached the fake TAP, guest memory and the
// device's state. A finding names its part and the part's iteration.
import { logger } from "../../src/base/log.ts";
import { runChainFuzz } from "../chain_fuzzer.ts";
import { ctrlPart } from "../net/ctrl.ts";
import type { NetPart } from "../net/driver.ts";
import { rxPart } from "../net/rx.ts";
import { txPart } from "../net/tx.ts";
import type { FuzzReport } from "../random.ts";

/** Chains one NIC serves before the part makes the next. */
const ITERATIONS_PER_NIC = 500;

export function fuzzNetFrames(iterations: number, seed: number): FuzzReport {
  const parts: Record<string, () => NetPart> = { tx: txPart, ctrl: ctrlPart, rx: rxPart };
  const failures: string[] = [];
  const stats: Record<string, number> = {};
  for (const [name, part] of Object.entries(parts)) {
    const report = runChainFuzz({
      target: `net_frames ${name}`,
      seed,
      iterations: Math.ceil(iterations / 3),
      log: logger("devices::virtio::net"),
      iterationsPerDevice: ITERATIONS_PER_NIC,
      queue: (_rng, d) => d.queue,
      beforeNotify: (d) => d.beforeNotify(),
      ...part(),
    });
    failures.push(...report.failures.map((f) => `${name} ${f}`));
    for (const [key, value] of Object.entries(report.stats)) stats[`${name}.${key}`] = value;
  }
  return { target: "net_frames", seed, iterations, failures, stats };
}
