import { expect, test } from "bun:test";
import { dr7For } from "../../../src/vmm/gdb/vm_target.ts";

test("DR7 enables each used slot globally (G0 bit 1, G1 bit 3, ...) as an execution breakpoint", () => {
  expect(dr7For([undefined, undefined, undefined, undefined])).toBe(0x400n);
  expect(dr7For([0x1000n, undefined, 0x2000n, undefined])).toBe(0x400n | 0x2n | 0x20n);
});
