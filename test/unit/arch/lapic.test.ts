import { describe, expect, test } from "bun:test";
import { APIC_LVT0, APIC_LVT1, withLintConfigured } from "../../../src/arch/x86_64/lapic.ts";

describe("withLintConfigured", () => {
  test("sets LINT0 to ExtINT and LINT1 to NMI, keeping other bits", () => {
    const state = new Uint8Array(1024);
    const v = new DataView(state.buffer);
    v.setUint32(APIC_LVT0, 0x0001_0000, true); // masked
    v.setUint32(APIC_LVT1, 0x0001_0400, true);
    const out = new DataView(withLintConfigured(state).buffer);
    expect(out.getUint32(APIC_LVT0, true)).toBe(0x0001_0700);
    expect(out.getUint32(APIC_LVT1, true)).toBe(0x0001_0400);
    expect(v.getUint32(APIC_LVT0, true)).toBe(0x0001_0000);
  });

  test("refuses a buffer that is not a kvm_lapic_state", () => {
    expect(() => withLintConfigured(new Uint8Array(16))).toThrow(/1024 bytes/);
  });
});
