import { describe, expect, test } from "bun:test";
import {
  type BalloonStats,
  decodeRequest,
  decodeResponse,
  encodeRequest,
  encodeResponse,
  MAX_MESSAGE_SIZE,
  type VmRequest,
  type VmResponse,
} from "../../../src/vm_control/protocol.ts";

const bytes = (text: string) => new TextEncoder().encode(text);
const text = (b: Uint8Array) => new TextDecoder().decode(b);

// serde_json's output for crosvm's VmRequest (externally tagged enums, snake_case fields), written by hand from
// vm_control/src/lib.rs and balloon_tube.rs.
const REQUEST_WIRE: [VmRequest, string][] = [
  [{ kind: "Exit" }, '"Exit"'],
  [{ kind: "Powerbtn" }, '"Powerbtn"'],
  [{ kind: "SuspendVcpus" }, '"SuspendVcpus"'],
  [{ kind: "ResumeVcpus" }, '"ResumeVcpus"'],
  [{ kind: "SuspendVm" }, '"SuspendVm"'],
  [{ kind: "ResumeVm" }, '"ResumeVm"'],
  [
    { kind: "DiskCommand", diskIndex: 1, command: { kind: "Resize", newSize: 1073741824 } },
    '{"DiskCommand":{"disk_index":1,"command":{"Resize":{"new_size":1073741824}}}}',
  ],
  [
    { kind: "BalloonCommand", command: { kind: "Adjust", numBytes: 268435456, waitForSuccess: false } },
    '{"BalloonCommand":{"Adjust":{"num_bytes":268435456,"wait_for_success":false}}}',
  ],
  [{ kind: "BalloonCommand", command: { kind: "Stats" } }, '{"BalloonCommand":"Stats"}'],
  // vm_control NetControlCommand::AddTap(String) / RemoveTap(u8) inside VmRequest::HotPlugNetCommand.
  [
    { kind: "HotPlugNetCommand", command: { kind: "AddTap", tapName: "crosvm_tap" } },
    '{"HotPlugNetCommand":{"AddTap":"crosvm_tap"}}',
  ],
  [
    { kind: "HotPlugNetCommand", command: { kind: "RemoveTap", bus: 3 } },
    '{"HotPlugNetCommand":{"RemoveTap":3}}',
  ],
];

const STATS: BalloonStats = {
  swapIn: 0,
  swapOut: 0,
  majorFaults: 12,
  minorFaults: 3400,
  freeMemory: 100 << 20,
  totalMemory: 512 << 20,
  availableMemory: 300 << 20,
  diskCaches: 50 << 20,
  hugetlbAllocations: null,
  hugetlbFailures: null,
  sharedMemory: 4096,
  unevictableMemory: 0,
};

const RESPONSE_WIRE: [VmResponse, string][] = [
  [{ kind: "Ok" }, '"Ok"'],
  [{ kind: "Err", errno: 22 }, '{"Err":22}'],
  [{ kind: "ErrString", message: "no balloon device" }, '{"ErrString":"no balloon device"}'],
  // VmResponse::PciHotPlugResponse { bus: u8 }.
  [{ kind: "PciHotPlugResponse", bus: 3 }, '{"PciHotPlugResponse":{"bus":3}}'],
  [
    { kind: "BalloonStats", stats: STATS, balloonActual: 4096 },
    '{"BalloonStats":{"stats":{"swap_in":0,"swap_out":0,"major_faults":12,"minor_faults":3400,' +
      '"free_memory":104857600,"total_memory":536870912,"available_memory":314572800,"disk_caches":52428800,' +
      '"hugetlb_allocations":null,"hugetlb_failures":null,"shared_memory":4096,"unevictable_memory":0},' +
      '"balloon_actual":4096}}',
  ],
];

describe("request JSON matches crosvm's serde output", () => {
  for (const [request, wire] of REQUEST_WIRE) {
    test(`${wire} encodes ${request.kind}`, () => {
      expect(text(encodeRequest(request))).toBe(wire);
    });

    test(`${wire} decodes back to the same request`, () => {
      expect(decodeRequest(bytes(wire))).toEqual({ ok: true, value: request });
    });
  }
});

describe("response JSON matches crosvm's serde output", () => {
  for (const [response, wire] of RESPONSE_WIRE) {
    test(`${response.kind} encodes as ${wire.slice(0, 40)}`, () => {
      expect(text(encodeResponse(response))).toBe(wire);
    });

    test(`${response.kind} decodes back to the same response`, () => {
      expect(decodeResponse(bytes(wire))).toEqual({ ok: true, value: response });
    });
  }

  test("missing balloon stats fields decode as null, as serde's Option", () => {
    const decoded = decodeResponse(bytes('{"BalloonStats":{"stats":{},"balloon_actual":0}}'));

    expect(decoded.ok && decoded.value.kind === "BalloonStats" && decoded.value.stats.swapIn).toBeNull();
  });
});

describe("malformed requests decode to a typed error", () => {
  const reasonOf = (wire: string | Uint8Array) => {
    const decoded = decodeRequest(typeof wire === "string" ? bytes(wire) : wire);
    if (decoded.ok) throw new Error(`decoded ${JSON.stringify(decoded.value)}`);
    return decoded.error;
  };

  test("bad JSON is malformed-json", () => {
    expect(reasonOf('{"Exit"').reason).toBe("malformed-json");
  });

  test("bytes that are not UTF-8 are malformed-json", () => {
    expect(reasonOf(new Uint8Array([0x22, 0xff, 0xfe, 0x22])).reason).toBe("malformed-json");
  });

  test("an unknown unit variant is unknown-variant and names it", () => {
    const error = reasonOf('"Sleepbtn"');

    expect(error.reason).toBe("unknown-variant");
    expect(error.message).toContain('"Sleepbtn"');
  });

  test("an unknown struct variant is unknown-variant", () => {
    expect(reasonOf('{"Gpe":{"gpe":1,"clear_evt":null}}').reason).toBe("unknown-variant");
  });

  test("a variant name in the wrong case is unknown", () => {
    expect(reasonOf('"exit"').reason).toBe("unknown-variant");
  });

  test("an object with two variant keys is refused", () => {
    expect(reasonOf('{"Exit":null,"Powerbtn":null}').reason).toBe("invalid-fields");
  });

  test("a number is not a request", () => {
    expect(reasonOf("42").reason).toBe("invalid-fields");
  });

  test("a unit variant sent with fields is refused", () => {
    expect(reasonOf('{"Exit":{}}').reason).toBe("invalid-fields");
  });

  test("a struct variant sent as a bare name is refused", () => {
    expect(reasonOf('"DiskCommand"').reason).toBe("invalid-fields");
  });

  test("a string where disk_index needs an integer names the field", () => {
    const error = reasonOf('{"DiskCommand":{"disk_index":"0","command":{"Resize":{"new_size":1}}}}');

    expect(error.reason).toBe("invalid-fields");
    expect(error.message).toContain("disk_index");
  });

  test("a negative size is refused", () => {
    expect(reasonOf('{"DiskCommand":{"disk_index":0,"command":{"Resize":{"new_size":-1}}}}').reason).toBe(
      "invalid-fields",
    );
  });

  test("a fractional size is refused", () => {
    expect(reasonOf('{"BalloonCommand":{"Adjust":{"num_bytes":1.5,"wait_for_success":false}}}').reason).toBe(
      "invalid-fields",
    );
  });

  test("a u64 beyond 2^53 - 1 is refused rather than rounded", () => {
    expect(
      reasonOf('{"BalloonCommand":{"Adjust":{"num_bytes":18446744073709551615,"wait_for_success":false}}}')
        .reason,
    ).toBe("invalid-fields");
  });

  test("a missing wait_for_success is refused, as serde requires it", () => {
    expect(reasonOf('{"BalloonCommand":{"Adjust":{"num_bytes":1}}}').reason).toBe("invalid-fields");
  });

  test("an unknown balloon command is refused", () => {
    expect(reasonOf('{"BalloonCommand":"WorkingSet"}').reason).toBe("invalid-fields");
  });

  test("a message over the size limit is too-large without being parsed", () => {
    const big = bytes(`"${"x".repeat(MAX_MESSAGE_SIZE)}"`);

    expect(reasonOf(big).reason).toBe("too-large");
  });

  test("unknown struct fields are ignored, as serde does without deny_unknown_fields", () => {
    const decoded = decodeRequest(
      bytes('{"DiskCommand":{"disk_index":0,"command":{"Resize":{"new_size":8}},"extra":true}}'),
    );

    expect(decoded.ok).toBe(true);
  });
});

describe("encoding", () => {
  test("a response over the size limit throws a too-large ProtocolError", () => {
    expect(() => encodeResponse({ kind: "ErrString", message: "x".repeat(MAX_MESSAGE_SIZE) })).toThrow(
      "message limit",
    );
  });

  test("an invalid response decodes to an error, not an exception", () => {
    const decoded = decodeResponse(bytes('{"Err":"EINVAL"}'));

    expect(decoded.ok).toBe(false);
  });
});

describe("hot-plug requests from a hostile client", () => {
  test("RemoveTap with a bus above 255 (not a u8) is refused", () => {
    const decoded = decodeRequest(bytes('{"HotPlugNetCommand":{"RemoveTap":256}}'));
    expect(decoded.ok ? "decoded" : decoded.error.reason).toBe("invalid-fields");
  });

  test("an unknown NetControlCommand variant is refused", () => {
    const decoded = decodeRequest(bytes('{"HotPlugNetCommand":{"AddVfio":"x"}}'));
    expect(decoded.ok ? "decoded" : decoded.error.reason).toBe("invalid-fields");
  });
});

describe("hostile requests (found by the control_messages fuzz target)", () => {
  const messageOf = (wire: string) => {
    const decoded = decodeRequest(bytes(wire));
    if (decoded.ok) throw new Error(`decoded ${JSON.stringify(decoded.value)}`);
    return decoded.error.message;
  };

  test("an unknown variant with a newline is named on one line, the newline shown as \\n", () => {
    expect(messageOf('"Exit\\n"')).toStartWith('control request: unknown variant "Exit\\n" (expected one of');
  });

  test("a missing field is named as missing, without valibot's received undefined", () => {
    expect(messageOf('{"DiskCommand":{"command":{"Resize":{"new_size":1}}}}')).toBe(
      "control request: invalid DiskCommand: disk_index: missing",
    );
  });

  test("a long unknown variant is shown cut", () => {
    expect(messageOf(`"${"x".repeat(5000)}"`)).toStartWith(
      `control request: unknown variant "${"x".repeat(100)}..." (expected one of`,
    );
  });

  test("a body of the wrong type says what was expected without quoting it", () => {
    expect(messageOf(`{"DiskCommand":"${"x".repeat(5000)}"}`)).toBe(
      'control request: invalid DiskCommand: expected {"disk_index": N, "command": {"Resize": {"new_size": N}}}',
    );
  });
});
