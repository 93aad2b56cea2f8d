// A PCI machine as the target drives it: guest operations run through the buses one after the other, each access
// followed by the checks that must hold after any access, and after a whole sequence the ones that cost more
// (transport_checks.ts). What each function's configuration space must keep is taken when the machine is built.
import type { Observer } from "../observer.ts";
import type { Rng } from "../random.ts";
import { publishChain } from "./chain_publisher.ts";
import { AccessPort } from "./guest_access.ts";
import { PciMachine } from "./pci_machine.ts";
import type { GuestOp } from "./script.ts";
import {
  accessFinding,
  barAlignmentFinding,
  commonReadsFinding,
  identityOf,
  pbaFinding,
  transportFinding,
} from "./transport_checks.ts";
import { TransportStats } from "./transport_stats.ts";
import type { VirtioModel } from "./virtio_models.ts";

export class MachineUnderTest {
  readonly machine: PciMachine;
  readonly #port: AccessPort;
  readonly #stats: TransportStats;
  readonly #identities: readonly string[];

  constructor(
    rng: Rng,
    readonly observer: Observer,
    models: readonly VirtioModel[],
  ) {
    this.machine = new PciMachine(rng, observer, models);
    this.#port = new AccessPort(this.machine);
    this.#stats = new TransportStats(this.machine, observer);
    this.#identities = this.machine.functions.map((f) => identityOf(f.device));
  }

  /** Runs `ops`; stops at the first finding (a broken state would repeat it after every access). */
  run(rng: Rng, ops: readonly GuestOp[]): void {
    const m = this.machine;
    for (const op of ops) {
      if (op.kind === "chain") {
        const q = m.virtio[op.fn]?.pci.queues[op.queue];
        this.observer.tally(q && publishChain(rng, m.mem, q) ? "chainsPublished" : "chainsWithoutQueue");
        continue;
      }
      const result = this.#port.perform(op, m.readsRepeatable());
      if ("finding" in result) return this.observer.finding(result.finding);
      this.#stats.after(op);
      const finding = accessFinding(m, op) ?? this.#transportFinding();
      if (finding) return this.observer.finding(finding);
    }
  }

  #transportFinding(): string | undefined {
    for (const f of this.machine.virtio) {
      const finding = transportFinding(f, this.machine.mem);
      if (finding) return finding;
    }
    return undefined;
  }

  /** What must hold after a whole sequence. */
  sequenceFinding(): string | undefined {
    for (const f of this.machine.virtio) {
      const finding = commonReadsFinding(f) ?? pbaFinding(f);
      if (finding) return finding;
    }
    for (const [i, f] of this.machine.functions.entries()) {
      const now = identityOf(f.device);
      if (now !== this.#identities[i])
        return `${f.device.debugLabel}: configuration changed to ${now} from ${this.#identities[i]}`;
      const finding = barAlignmentFinding(f.device);
      if (finding) return finding;
    }
    return undefined;
  }
}
