import { describe, expect, test } from "bun:test";
import { KvmIrqLine, RecordingIrqLevel, reviveIrqLevel } from "../../../src/devices/acpi/irq_level.ts";

describe("level interrupt lines", () => {
  test("a revived recording line shares its level with the original", () => {
    const line = new RecordingIrqLevel();
    const copy = reviveIrqLevel(line.share());

    copy.setLevel(true);

    expect(line.high).toBe(true);
    expect(line.raises).toBe(1);
  });

  test("a KVM line revives with the same VM fd and GSI", () => {
    const line = new KvmIrqLine(42, 5);

    expect(reviveIrqLevel(line.share()).share()).toEqual({ kind: "kvm-irq-line", vmFd: 42, gsi: 5 });
  });

  test("a failing KVM_IRQ_LINE is logged, not thrown into the vCPU loop", () => {
    const line = new KvmIrqLine(-1, 5);

    expect(() => line.setLevel(true)).not.toThrow();
  });

  test("malformed shared state is refused", () => {
    expect(() => reviveIrqLevel({ kind: "kvm-irq-line", vmFd: "3", gsi: 5 })).toThrow(
      "irq level line: malformed shared state",
    );
  });
});
