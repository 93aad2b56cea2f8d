import { describe, expect, test } from "bun:test";
import {
  MAX_PACKET_BYTES,
  RspDecoder,
  encodePacket,
  fromHex,
  toHex,
} from "../../../src/vmm/gdb/rsp_codec.ts";

const bytes = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array) => new TextDecoder().decode(b);

describe("RSP framing", () => {
  test("a packet with a correct checksum decodes to its data", () => {
    const events = new RspDecoder().feed(bytes("$qSupported#37"));

    expect(events).toHaveLength(1);
    expect(events[0]!.kind).toBe("packet");
    expect(text((events[0] as { data: Uint8Array }).data)).toBe("qSupported");
  });

  test("a packet split across chunks decodes once complete", () => {
    const d = new RspDecoder();

    expect(d.feed(bytes("+$g#"))).toEqual([]);
    const events = d.feed(bytes("67"));

    expect(events.map((e) => e.kind)).toEqual(["packet"]);
  });

  test("a wrong checksum is a bad packet", () => {
    expect(new RspDecoder().feed(bytes("$g#00"))).toEqual([{ kind: "bad-packet" }]);
  });

  test("a bare 0x03 between packets is an interrupt", () => {
    expect(new RspDecoder().feed(Uint8Array.of(3))).toEqual([{ kind: "interrupt" }]);
  });

  test("escaped bytes decode to their value", () => {
    const packet = encodePacket(Uint8Array.of(0x24, 0x23, 0x7d, 0x2a, 0x41));
    const events = new RspDecoder().feed(packet);

    expect(Array.from((events[0] as { data: Uint8Array }).data)).toEqual([0x24, 0x23, 0x7d, 0x2a, 0x41]);
  });

  test("a packet longer than the limit is dropped as bad", () => {
    const long = encodePacket("x".repeat(MAX_PACKET_BYTES + 1));

    expect(new RspDecoder().feed(long)).toEqual([{ kind: "bad-packet" }]);
  });

  test("encodePacket frames with the checksum gdb expects", () => {
    expect(text(encodePacket("OK"))).toBe("$OK#9a");
  });

  test("hex round-trips and odd or non-hex text is refused", () => {
    expect(toHex(fromHex("00ff10")!)).toBe("00ff10");
    expect(fromHex("abc")).toBeUndefined();
    expect(fromHex("zz")).toBeUndefined();
  });
});
