// bench/vsock's reading of what `vsock-io sink` and `vsock-io send` print (scripts/guest/tools/vsock_io.c).
import { describe, expect, test } from "bun:test";
import { mbitPerSecond, parseSendReport, parseSinkReport } from "../../../bench/vsock/sink_report.ts";

describe("parseSinkReport", () => {
  test("reads the bytes and nanoseconds of the sink's line", () => {
    const report = parseSinkReport("1048576 2000000000\n");

    expect(report).toEqual({ bytes: 1048576, ns: 2000000000 });
  });

  test("refuses a line that is not two numbers, quoting it", () => {
    expect(() => parseSinkReport("vsock-io: accept failed: errno 4\n")).toThrow(
      'vsock-io sink: expected "BYTES NANOSECONDS", got "vsock-io: accept failed: errno 4"',
    );
  });

  test("refuses an empty stream (no byte arrived)", () => {
    expect(() => parseSinkReport("0 0\n")).toThrow("vsock-io sink: an empty stream (0 bytes in 0 ns)");
  });
});

describe("parseSendReport", () => {
  test("reads the byte count of the sender's line", () => {
    expect(parseSendReport("655360\n")).toBe(655360);
  });

  test("refuses output that is not one number", () => {
    expect(() => parseSendReport("")).toThrow('vsock-io send: expected "BYTES", got ""');
  });
});

describe("mbitPerSecond", () => {
  test("is bits over seconds in units of 10^6", () => {
    const rate = mbitPerSecond({ bytes: 125_000_000, ns: 2e9 });

    expect(rate).toBe(500);
  });
});
