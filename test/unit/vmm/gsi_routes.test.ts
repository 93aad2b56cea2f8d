import { describe, expect, test } from "bun:test";
import { defaultIrqchipRoutes } from "../../../src/vmm/gsi_routes.ts";

describe("default GSI routes", () => {
  test("ISA GSIs 0-15 go to both the PIC and the IOAPIC pin of the same number", () => {
    const routes = defaultIrqchipRoutes();

    expect(routes.filter((r) => r.gsi === 4)).toEqual([
      { gsi: 4, type: "irqchip", irqchip: 0, pin: 4 },
      { gsi: 4, type: "irqchip", irqchip: 2, pin: 4 },
    ]);
    expect(routes.filter((r) => r.gsi === 9)).toEqual([
      { gsi: 9, type: "irqchip", irqchip: 1, pin: 1 },
      { gsi: 9, type: "irqchip", irqchip: 2, pin: 9 },
    ]);
  });

  test("GSIs 16-23 go to the IOAPIC only, as KVM sets them up", () => {
    const routes = defaultIrqchipRoutes();

    expect(routes.filter((r) => r.gsi === 20)).toEqual([{ gsi: 20, type: "irqchip", irqchip: 2, pin: 20 }]);
    expect(routes.length).toBe(16 * 2 + 8);
  });
});
