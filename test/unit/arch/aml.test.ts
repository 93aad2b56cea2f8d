import { describe, expect, test } from "bun:test";
import * as aml from "../../../src/arch/x86_64/acpi/aml.ts";
import { sleepStatesAml } from "../../../src/arch/x86_64/acpi/dsdt.ts";

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

describe("AML encoding", () => {
  test("a short package length is one byte counting itself", () => {
    expect([...aml.pkgLength(5)]).toEqual([6]);
    expect([...aml.pkgLength(62)]).toEqual([63]);
  });

  test("a longer package length uses a lead byte and following bytes", () => {
    // 100 content bytes + 2 length bytes = 102 = 0x66: lead 0x40 | low nibble 6, then 0x66 >> 4.
    expect([...aml.pkgLength(100)]).toEqual([0x46, 0x06]);
    // 5000 + 3 = 5003 = 0x138b: lead 0x80 | 0xb, then 0x38, 0x01.
    expect([...aml.pkgLength(5000)]).toEqual([0x8b, 0x38, 0x01]);
  });

  test("Name(_S5_, Package() {0, 0, 0, 0}) encodes as ASL compilers emit it", () => {
    expect(hex(aml.name("_S5_", aml.pkg([aml.int(0), aml.int(0), aml.int(0), aml.int(0)])))).toBe(
      "085f53355f12060400000000",
    );
  });

  test("the sleep-state objects are \\_S1_ = {1, 1, 0, 0} and \\_S5_ = {0, 0, 0, 0}", () => {
    expect(hex(sleepStatesAml())).toBe("085f53315f1206040101000008" + "5f53355f12060400000000");
  });

  test("Method(_OSC, 4) { Return(Arg3) } encodes as ASL compilers emit it (MethodOp, length, name, flags)", () => {
    expect(hex(aml.method("_OSC", 4, [aml.ret(aml.arg(3))]))).toBe("14085f4f534304a46b");
  });

  test("a method with more than 7 arguments is refused", () => {
    expect(() => aml.method("_FOO", 8, [])).toThrow(aml.AmlError);
  });

  test("integers use the shortest constant", () => {
    expect([0, 1, 5, 0x1234, 0x1234_5678].map((n) => hex(aml.int(n)))).toEqual([
      "00",
      "01",
      "0a05",
      "0b3412",
      "0c78563412",
    ]);
    expect(hex(aml.int(0x1_0000_0000n))).toBe("0e0000000001000000");
  });

  test('EISAID("PNP0A03") is the DWord 0x030AD041', () => {
    expect(hex(aml.eisaId("PNP0A03"))).toBe("0c41d00a03");
  });

  test("name strings take root and dual-name prefixes", () => {
    expect(hex(aml.nameString("\\_SB_.PC00"))).toBe("5c2e5f53425f50433030");
    expect(hex(aml.nameString("_SB"))).toBe("5f53425f");
  });

  test("an empty Scope(\\_SB_) holds just its name", () => {
    expect(hex(aml.scope("\\_SB_", []))).toBe("10065c5f53425f");
  });

  test("a resource template ends with an end tag inside a sized buffer", () => {
    expect(hex(aml.resourceTemplate([aml.ioPort(0xcf8, 0xcf8, 1, 8)]))).toBe(
      "110d0a0a4701f80cf80c010879" + "00",
    );
  });

  test("a bad name segment is refused", () => {
    expect(() => aml.nameString("toolong")).toThrow(aml.AmlError);
  });
});
