// Control-socket packets for the control_messages target: every request this VMM serves, with numbers across
// their range, and hostile packets made from them. The socket is SOCK_SEQPACKET: a packet's length is the
// kernel's, not a prefix a client writes, so the lengths that lie are packets over the size limit and JSON whose
// numbers claim sizes no request may have; the rest are cut, padded, byte-flipped, retyped or renamed requests.
import { MAX_MESSAGE_SIZE, type VmRequest } from "../src/vm_control/protocol.ts";
import { HOSTILE_TEXTS } from "./hostile_text.ts";
import { mutateTree, render, toTree } from "./json_tree.ts";
import { mutate, type Rng } from "./random.ts";

/** The request names and field names of the wire format, for trees to repeat and misspell. */
const WIRE_KEYS = [
  "DiskCommand",
  "BalloonCommand",
  "HotPlugNetCommand",
  "Exit",
  "disk_index",
  "command",
  "Resize",
  "new_size",
  "Adjust",
  "num_bytes",
  "wait_for_success",
  "AddTap",
  "RemoveTap",
];

const UNIT_REQUESTS = ["Exit", "Powerbtn", "SuspendVcpus", "ResumeVcpus", "SuspendVm", "ResumeVm"] as const;

/** A byte count: anywhere up to 1 TiB, or an edge of the u64 range JavaScript holds exactly. */
function byteCount(rng: Rng): number {
  return rng.chance(0.5) ? rng.int(2 ** 40) : rng.pick([0, 1, 4096, 2 ** 30, Number.MAX_SAFE_INTEGER]);
}

export function randomRequest(rng: Rng): VmRequest {
  switch (rng.int(4)) {
    case 0:
      return { kind: rng.pick(UNIT_REQUESTS) };
    case 1:
      return {
        kind: "DiskCommand",
        diskIndex: rng.int(4),
        command: { kind: "Resize", newSize: byteCount(rng) },
      };
    case 2:
      return {
        kind: "BalloonCommand",
        command: rng.chance(0.3)
          ? { kind: "Stats" }
          : { kind: "Adjust", numBytes: byteCount(rng), waitForSuccess: rng.chance(0.5) },
      };
    default:
      return {
        kind: "HotPlugNetCommand",
        command: rng.chance(0.5)
          ? { kind: "AddTap", tapName: rng.pick(["crosvm_tap", "tap0", ""]) }
          : { kind: "RemoveTap", bus: rng.int(256) },
      };
  }
}

const utf8 = new TextEncoder();
const text = new TextDecoder();

/** Byte sequences that are not UTF-8: a stray continuation, an overlong NUL, a surrogate, a cut sequence. */
const NOT_UTF8 = [[0xff], [0x80], [0xc0, 0x80], [0xed, 0xa0, 0x80], [0xf0, 0x9f]] as const;

function splice(bytes: Uint8Array, at: number, insert: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(bytes.length + insert.length);
  out.set(bytes.subarray(0, at));
  out.set(insert, at);
  out.set(bytes.subarray(at), at + insert.length);
  return out;
}

/** `frame` padded with leading spaces (still the same JSON) to `length` bytes. */
function padded(frame: Uint8Array, length: number): Uint8Array {
  const out = new Uint8Array(Math.max(length, frame.length)).fill(0x20);
  out.set(frame, out.length - frame.length);
  return out;
}

/** A hostile packet made from the valid request `frame`. */
export function hostileFrame(rng: Rng, frame: Uint8Array): Uint8Array {
  switch (rng.int(8)) {
    case 0: {
      const bytes = frame.slice();
      mutate(rng, bytes, rng.int(4) + 1);
      return bytes;
    }
    case 1:
      return frame.subarray(0, rng.int(frame.length));
    case 2:
      return splice(frame, frame.length, utf8.encode(rng.pick([" ", "\n", "x", '"Exit"', "{}", "\0"])));
    case 3: {
      let tree = toTree(JSON.parse(text.decode(frame)));
      for (let n = rng.int(3) + 1; n > 0; n--) tree = mutateTree(rng, tree, WIRE_KEYS);
      return utf8.encode(render(tree));
    }
    case 4:
      return utf8.encode(
        JSON.stringify(
          rng.chance(0.5) ? rng.pick(HOSTILE_TEXTS) : { [rng.pick(HOSTILE_TEXTS)]: rng.pick(HOSTILE_TEXTS) },
        ),
      );
    case 5:
      return splice(frame, rng.int(frame.length + 1), rng.pick(NOT_UTF8));
    case 6:
      return padded(frame, MAX_MESSAGE_SIZE + rng.pick([-1, 0, 1, 2, 4096, 80_000]));
    default:
      return new Uint8Array(0);
  }
}
