// The net target's control part: one command per chain (ctrl_commands.ts), laid out as Linux does (class and
// command, data, ack byte) or in one buffer, the ack byte sometimes missing or in a device-readable buffer.
// Checked besides the chain fuzzer's checks: the device writes nothing but the ack (the chain's last
// device-writable byte) and the used ring; the ack is the one 5.1.6.5 gives; the pairs in use and the TAPs'
// offloads (TUNSETOFFLOAD) change only on VIRTIO_NET_OK, and then to what the command asked; a chain without room
// for the ack, or without a class and command, is used with nothing written.
import { VIRTIO_NET_OK } from "../../src/devices/virtio/net/constants.ts";
import { tapOffloadFlags } from "../../src/devices/virtio/net/header.ts";
import { DATA_BASE } from "../../src/devices/virtio/testing.ts";
import { SLOT_SIZE } from "../chain_fuzzer.ts";
import { hex } from "../bytes.ts";
import { sameUsed } from "../queue_recorder.ts";
import { tally } from "../random.ts";
import { overlaps } from "../ranges.ts";
import { type Answer, expectedAnswer, hostileCommand } from "./ctrl_commands.ts";
import { NetDriver, type NetPart, USED_RING } from "./driver.ts";

/** Command bytes the answer depends on: class, command and the longest served data (le64), and then some. */
const COMMAND_PREFIX = 16;
/** class and command. */
const CTRL_HEADER_BYTES = 2;

/** Whether the pairs in use and the TAPs' offloads are what `answer` (undefined: no answer) leaves. */
function stateProblem(d: NetDriver, answer: Answer | undefined): string | undefined {
  const { pairs, offloads } = answer ?? {};
  const want = {
    pairs: pairs ?? d.before.pairs,
    enabled: pairs === undefined ? d.before.enabled : d.taps.map((_, i) => i < pairs),
    offloads: offloads === undefined ? d.before.offloads : d.taps.map(() => tapOffloadFlags(offloads)),
  };
  const now = d.state();
  const got = { pairs: now.pairs, enabled: now.enabled, offloads: now.offloads };
  return JSON.stringify(got) === JSON.stringify(want)
    ? undefined
    : `state ${JSON.stringify(got)} after answer ${JSON.stringify(answer, (_, v) => (typeof v === "bigint" ? `0x${v.toString(16)}` : v))}, expected ${JSON.stringify(want)}`;
}

/** Checks one control chain; a finding, or undefined. */
function checkControl(d: NetDriver, stats: Record<string, number>): string | undefined {
  const { popped, used } = d.take();
  if (popped.length !== 1) return `the control queue popped ${popped.length} chains for one notification`;
  const chain = popped[0]!;
  const ackBuffer = chain.buffers.findLast((b) => b.writable && b.len > 0);
  const command = chain.readable.subarray(0, COMMAND_PREFIX);
  const answerable =
    chain.error === undefined && ackBuffer !== undefined && command.length >= CTRL_HEADER_BYTES;
  if (chain.error === undefined && ackBuffer === undefined) tally(stats, "noRoomForAck");
  const answer = answerable ? expectedAnswer(command, d.features, d.taps.length) : undefined;
  const ack = { addr: ackBuffer ? ackBuffer.addr + ackBuffer.len - 1 : -1, len: 1 };
  if (!sameUsed(used, [{ head: chain.head, len: answer ? 1 : 0 }]))
    return `used ${JSON.stringify(used)} for control chain ${chain.head}, expected ${answer ? 1 : 0} bytes written`;
  const stray = d.watch.strayWrite(answer ? [USED_RING, ack] : [USED_RING]);
  if (stray >= 0) return `the control queue wrote guest memory at ${hex(stray)}`;
  if (answer && !overlaps(ack, USED_RING) && d.watch.now(ack.addr, 1)[0] !== answer.ack)
    return `ack ${d.watch.now(ack.addr, 1)[0]} for command ${Buffer.from(command).toString("hex")}, expected ${answer.ack}`;
  if (answer) tally(stats, answer.ack === VIRTIO_NET_OK ? "ok" : "err");
  if (answer?.pairs !== undefined) tally(stats, "pairsSet");
  if (answer?.offloads !== undefined) tally(stats, "offloadsSet");
  return stateProblem(d, answer);
}

/** The control part (the queue after the pairs' queues). */
export function ctrlPart(): NetPart {
  /** The data length of the command being sent, for its descriptors' lengths. */
  const plan = { dataLen: 0 };
  return {
    expectedFailures: ["control command without room for its ack", "descriptor chain too short"],
    shape: {
      interestingLengths: [0, 1, 2, 3, 4, 9, 10, 11],
      dataSectors: 1,
      maxIndirect: 6,
      maxDirect: 5,
      writableChance: 0,
      plausiblyWritable: (rng, i, n) => rng.chance(i === n - 1 ? 0.9 : 0.02),
      // Linux's layout: class and command, data, ack; or class, command and data in one buffer.
      plausibleLength: (rng, i, n, anyLength) => {
        if (i === n - 1) return rng.chance(0.9) ? 1 : anyLength();
        if (i === 0) return n === 2 ? CTRL_HEADER_BYTES + plan.dataLen : CTRL_HEADER_BYTES;
        return i === 1 ? plan.dataLen : anyLength();
      },
    },
    newDevice: (rng) => new NetDriver(rng, (pairs) => 2 * pairs),
    prepare: (rng, d) => {
      const bytes = hostileCommand(rng, d.taps.length);
      plan.dataLen = Math.max(0, bytes.length - CTRL_HEADER_BYTES);
      d.drv.mem.write(DATA_BASE, bytes);
      d.drv.mem.write(DATA_BASE + SLOT_SIZE, bytes.subarray(CTRL_HEADER_BYTES));
    },
    check: (d, _queue, stats) => checkControl(d, stats),
  };
}
