// Fuzz target: the PCI side of virtio devices from a hostile guest (fuzz/pci/). The machine is built as the VMM
// builds it (pci_machine.ts: two virtio-pci functions of random device models and MSI-X table sizes, one behind a
// hot-plug root port, a function with 64-bit BARs) and each iteration runs one sequence of guest operations on it:
// mostly Linux's own (PCI enumeration with BAR sizing, pciehp's port setup, the virtio-pci probe, traffic,
// removal) with a few or many mutations, sometimes only random ones. Checked: nothing throws out of the bus path
// or out of a function's config handlers; reads fill exactly their bytes (guest_access.ts); what the transport
// hands the device model and what the model signals (watched_virtio_device.ts); the interrupts the machine
// sends; the transport's invariants after every access and each sequence (transport_checks.ts); only guest-input
// records in the logs (device_log.ts); bounded memory.
import { logger } from "../../src/base/log.ts";
import { captureDeviceLog } from "../device_log.ts";
import { MemoryBound } from "../memory_bound.ts";
import type { Observer } from "../observer.ts";
import { enumerate, setUpHotplugPort } from "../pci/enumeration.ts";
import { MachineUnderTest } from "../pci/machine_under_test.ts";
import { mutateOps } from "../pci/op_mutations.ts";
import type { PciMachine } from "../pci/pci_machine.ts";
import { randomOp } from "../pci/random_access.ts";
import { type GuestOp, Script } from "../pci/script.ts";
import { VIRTIO_MODELS } from "../pci/virtio_models.ts";
import { probeVirtio } from "../pci/virtio_probe.ts";
import { type FuzzReport, Rng, recordFailure, tally } from "../random.ts";

/** Sequences one machine serves before the target builds another (other models, fresh state); fewer after a finding. */
const ITERATIONS_PER_MACHINE = 500;
const MEMORY_CHECK_EVERY = 2000;
/** The transport's log and each model's, with the failures guest input may cause. */
const LOGS: readonly { log: string; expectedFailures: readonly (string | RegExp)[] }[] = [
  // A device refusing an activation: the transport then sets DEVICE_NEEDS_RESET.
  { log: "devices::virtio::pci", expectedFailures: [/ is already active\b/] },
  ...VIRTIO_MODELS,
];

/** One sequence: random operations, or Linux's with mutations. */
function sequence(rng: Rng, m: PciMachine): GuestOp[] {
  const s = new Script(rng, rng.chance(0.7) ? "ecam" : "ports");
  if (rng.chance(0.1)) {
    for (let n = 20 + rng.int(100); n > 0; n--) randomOp(s, m);
    return s.ops;
  }
  if (rng.chance(0.3)) for (const f of m.functions) enumerate(s, f);
  if (rng.chance(0.2)) setUpHotplugPort(s, m.port, m.portAddress, rng.int(256));
  const fn = rng.int(m.virtio.length);
  probeVirtio(s, m.virtio[fn]!, fn);
  if (rng.chance(0.8)) mutateOps(rng, s.ops, m, 1 + rng.int(rng.chance(0.8) ? 4 : 30));
  return s.ops;
}

export function fuzzPciTransport(iterations: number, seed: number): FuzzReport {
  const rng = new Rng(seed);
  const failures: string[] = [];
  const stats = { refused: 0, failed: 0 };
  let iteration = 0;
  const observer: Observer = {
    finding: (text) => recordFailure(failures, `iteration ${iteration}: ${text}`),
    tally: (key, n) => tally(stats, key, n),
  };
  const restores = LOGS.map(({ log, expectedFailures }) =>
    captureDeviceLog(logger(log), expectedFailures, stats, (text) =>
      observer.finding(`unexpected log record: ${text}`),
    ),
  );
  const memory = new MemoryBound();
  let under: MachineUnderTest | undefined;
  let served = 0;
  try {
    for (iteration = 0; iteration < iterations; iteration++) {
      if (!under || served === ITERATIONS_PER_MACHINE) {
        under = new MachineUnderTest(rng, observer, VIRTIO_MODELS);
        served = 0;
      }
      served++;
      const found = failures.length;
      under.run(rng, sequence(rng, under.machine));
      const finding = under.sequenceFinding();
      if (finding) observer.finding(finding);
      // A broken machine would repeat its finding every iteration: the next one gets a fresh machine.
      if (failures.length > found) under = undefined;
      if (iteration % MEMORY_CHECK_EVERY === 0) {
        const over = memory.check(iteration);
        if (over) recordFailure(failures, over);
      }
    }
  } finally {
    for (const restore of restores) restore();
  }
  return { target: "pci_transport", seed, iterations, failures, stats };
}
