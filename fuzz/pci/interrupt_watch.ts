// The interrupts of the PCI machine, watched where they leave it: an MSI-X vector is sent only while it is in the
// table and unmasked, and only a vector of the table gets its route changed; a line (INTx, a root port's MSI) is
// raised only while it is on.
import type { IrqEvent } from "../../src/devices/irq.ts";
import type { MsixConfig } from "../../src/devices/pci/msix.ts";
import type { Observer } from "../observer.ts";

/** Hooks `msix`'s vector sends and route changes (as the VMM's irqfds and GSI routes would take them). */
export function watchMsix(msix: MsixConfig, label: string, observer: Observer): void {
  const inTable = (v: number) => v >= 0 && v < msix.tableSize;
  msix.vectorIrq = (v) => {
    if (!inTable(v) || msix.vector(v).masked)
      observer.finding(
        `${label}: MSI-X vector ${v} sent (table of ${msix.tableSize}), masked or past the table`,
      );
    observer.tally("msixSent");
    return undefined;
  };
  msix.onVectorChange = (v) => {
    if (!inTable(v))
      observer.finding(`${label}: route change of MSI-X vector ${v} (table of ${msix.tableSize})`);
  };
}

/** A line that may only be raised while `on()`; each raise counts as `stat`. */
export function watchedLine(name: string, on: () => boolean, stat: string, observer: Observer): IrqEvent {
  return {
    eventFd: -1,
    trigger: () => {
      if (!on()) observer.finding(`${name} raised while it is off`);
      observer.tally(stat);
    },
  };
}
