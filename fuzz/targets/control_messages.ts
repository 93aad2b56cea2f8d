// Fuzz target: control-socket requests from a hostile client. Each iteration sends a hostile packet made from a
// valid request (control_frames.ts), then a valid request, through a SOCK_SEQPACKET pair read as the server reads
// it (packet_pipe.ts), and decodes them. Checked: a packet over the limit is read as oversized and whole (the next
// packet arrives intact) and is refused as too-large, unparsed; decodeRequest never throws; a refusal is a
// ProtocolError with a known reason, its message one printable line beginning "control request: ", short enough
// for its ErrString reply to be sent; an accepted request holds only safe integers and encodes back to itself;
// the valid request after a hostile one decodes to what was sent; memory stays bounded, no prototype changes.
import {
  decodeRequest,
  encodeRequest,
  encodeResponse,
  errString,
  MAX_MESSAGE_SIZE,
  ProtocolError,
  type ProtocolErrorReason,
  type VmRequest,
} from "../../src/vm_control/protocol.ts";
import { firstDifference } from "../bytes.ts";
import { hostileFrame, randomRequest } from "../control_frames.ts";
import { MemoryBound } from "../memory_bound.ts";
import { PacketPipe } from "../packet_pipe.ts";
import { PrototypeWatch } from "../prototype_watch.ts";
import { type FuzzReport, Rng, recordFailure, tally } from "../random.ts";
import { describeThrown, refusalMessageProblem } from "../refusal_check.ts";
import { unsafeNumbers } from "../safe_integers.ts";

const REASONS: ReadonlySet<ProtocolErrorReason> = new Set([
  "too-large",
  "malformed-json",
  "unknown-variant",
  "invalid-fields",
]);
const PREFIX = "control request: ";
/** Largest packet a client can send with the default send buffer (wmem_default 212992); larger ones fail with
 * EMSGSIZE on the client's side and are only decoded. */
const LARGEST_PACKET = 200_000;
const lenientUtf8 = new TextDecoder();

/** What is wrong with a refusal of `frame`, or undefined. */
function refusalProblem(frame: Uint8Array, error: unknown): string | undefined {
  if (!(error instanceof ProtocolError)) return `refused with ${describeThrown(error)}`;
  if (!REASONS.has(error.reason)) return `unknown reason "${error.reason}"`;
  if (frame.length > MAX_MESSAGE_SIZE && error.reason !== "too-large")
    return `a ${frame.length}-byte packet refused as ${error.reason}, not too-large`;
  if (!error.message.startsWith(PREFIX)) return `message does not begin "${PREFIX}": ${error.message}`;
  // The message quotes no piece of the request whole: an echo is cut short.
  const problem = refusalMessageProblem(error.message, lenientUtf8.decode(frame), 0);
  if (problem) return `${problem}: ${JSON.stringify(error.message.slice(0, 300))}`;
  try {
    encodeResponse(errString(error.message));
  } catch (e) {
    return `its ErrString reply cannot be sent (${describeThrown(e)})`;
  }
  return undefined;
}

/** What is wrong with an accepted request, or undefined. */
function acceptedProblem(request: VmRequest): string | undefined {
  const unsafe = unsafeNumbers(request);
  if (unsafe.length > 0) return `accepted ${unsafe.join(", ")}`;
  // Compared as JSON: "-0" reads as -0, which serde takes for 0 as well.
  const encoded = lenientUtf8.decode(encodeRequest(request));
  const again = decodeRequest(encodeRequest(request));
  return again.ok && lenientUtf8.decode(encodeRequest(again.value)) === encoded
    ? undefined
    : `accepted ${JSON.stringify(request)}, which does not encode back to itself`;
}

/** Decodes one packet; a finding, or undefined after counting what became of it. */
function checkFrame(frame: Uint8Array, stats: Record<string, number>): string | undefined {
  let decoded;
  try {
    decoded = decodeRequest(frame);
  } catch (e) {
    return `decodeRequest threw ${describeThrown(e)}`;
  }
  if (decoded.ok) {
    tally(stats, "accepted");
    return acceptedProblem(decoded.value);
  }
  tally(stats, "refused");
  tally(stats, `refused:${decoded.error.reason}`);
  return refusalProblem(frame, decoded.error);
}

/**
 * Sends `hostile` then `valid` through the pipe and reads both back: the hostile packet whole (or as oversized),
 * the valid one intact and decoding to `request`. An empty packet is not sent: a zero-length read is a hang-up on
 * this socket, as crosvm's Tube reads it.
 */
function checkTransport(
  pipe: PacketPipe,
  hostile: Uint8Array,
  valid: Uint8Array,
  request: VmRequest,
): string | undefined {
  if (hostile.length > 0 && hostile.length <= LARGEST_PACKET) {
    const sent = pipe.send(hostile);
    if (sent !== "sent") return `the pipe did not take a ${hostile.length}-byte packet (${sent})`;
    const got = pipe.receive();
    if (hostile.length > MAX_MESSAGE_SIZE) {
      if (got.kind !== "oversized" || got.size !== hostile.length)
        return `a ${hostile.length}-byte packet was read as ${got.kind}`;
    } else if (got.kind !== "packet" || firstDifference(got.bytes, hostile) >= 0)
      return `a ${hostile.length}-byte packet was not read back whole (${got.kind})`;
  }
  if (pipe.send(valid) !== "sent") return "the pipe did not take the valid request";
  const next = pipe.receive();
  if (next.kind !== "packet") return `the valid request after it was read as ${next.kind}`;
  const decoded = decodeRequest(next.bytes);
  return decoded.ok && Bun.deepEquals(decoded.value, request)
    ? undefined
    : `the valid request after it decoded to ${JSON.stringify(decoded)}`;
}

export function fuzzControlMessages(iterations: number, seed: number): FuzzReport {
  const rng = new Rng(seed);
  const failures: string[] = [];
  const stats: Record<string, number> = { accepted: 0, refused: 0 };
  const pipe = new PacketPipe(MAX_MESSAGE_SIZE);
  const prototypes = new PrototypeWatch();
  const memory = new MemoryBound();
  try {
    for (let iteration = 0; iteration < iterations; iteration++) {
      const request = randomRequest(rng);
      const valid = encodeRequest(request);
      const hostile = hostileFrame(rng, valid);
      const problem =
        checkFrame(hostile, stats) ?? checkTransport(pipe, hostile, valid, request) ?? prototypes.check();
      if (problem) {
        const shown = lenientUtf8.decode(hostile.subarray(0, 200));
        recordFailure(
          failures,
          `iteration ${iteration}: ${JSON.stringify(shown)} (${hostile.length} bytes): ${problem}`,
        );
      }
      if (iteration % 2_000 === 0) {
        const over = memory.check(iteration);
        if (over) recordFailure(failures, over);
      }
    }
  } finally {
    pipe.close();
  }
  return { target: "control_messages", seed, iterations, failures, stats };
}
