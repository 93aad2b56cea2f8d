// Exit-cost benchmark: how much a port-I/O exit costs through our vCPU loop compared with a C KVM_RUN loop.
// Both run bench/exit-cost/guest.S (200,000 writes to the COM1 scratch register) with the same KVM setup. Ours goes
// through the real dispatch path: runVcpuLoop -> I/O Bus lookup -> the 16550 UART under its SharedMutex.
// A third row runs our loop with --trace-file's exit recording on (the ExitProfile wrapper cutting exits into
// slices), to show what tracing costs when on; when off the loop runs on the bare buses, as the second row.
// Usage: bun bench/exit-cost/run.ts [ROUNDS]   (needs /dev/kvm, gcc, as, ld)
import { $ } from "bun";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { KVM_PIT_SPEAKER_DUMMY } from "../../ffi/kvm.ts";
import { Bus } from "../../src/devices/bus.ts";
import { RecordingIrq } from "../../src/devices/irq.ts";
import { openSerialOutput } from "../../src/devices/serial/output.ts";
import { Uart16550 } from "../../src/devices/serial/uart.ts";
import { Kvm } from "../../src/hypervisor/kvm.ts";
import { BiosLoader } from "../../src/vmm/bios_loader.ts";
import { createGuestRam, releaseGuestRam } from "../../src/vmm/guest_ram.ts";
import { ExitProfile } from "../../src/vmm/exit_profile.ts";
import { runVcpuLoop } from "../../src/vmm/vcpu_loop.ts";
import type { VmConfig } from "../../src/vmm/config.ts";

const EXITS = 200_000;
const ROUNDS = Number(process.argv[2] ?? 5);
const here = import.meta.dir;
const work = mkdtempSync(join(tmpdir(), "exit-cost-"));
const image = join(work, "guest.bin");
const refBin = join(work, "ref_loop");

await $`as --32 -o ${join(work, "guest.o")} ${join(here, "guest.S")}`.quiet();
await $`ld -m elf_i386 -Ttext=0xffff0000 --oformat binary -o ${image} ${join(work, "guest.o")}`.quiet();
await $`gcc -O2 -o ${refBin} ${join(here, "ref_loop.c")}`.quiet();

/** One C run: ns per exit. */
async function cRound(): Promise<number> {
  const out = await $`${refBin} ${image} ${EXITS}`.text();
  const [n, ns] = out.trim().split(" ").map(Number);
  return ns! / n!;
}

/** One run of our loop on this thread: ns per exit; `traced` wraps the buses as --trace-file does. */
function tsRound(traced = false): number {
  const kvm = Kvm.open();
  const vm = kvm.createVm();
  vm.setIdentityMapAddr(0xfeffc000);
  vm.setTssAddr(0xfeffd000);
  vm.createIrqchip();
  vm.createPit2(KVM_PIT_SPEAKER_DUMMY);
  const loader = new BiosLoader(image);
  const memory = createGuestRam([{ guestAddr: 0, size: 2 << 20 }, ...loader.extraRegions()]);
  vm.addGuestMemory(memory);
  const vcpu = vm.createVcpu(0);
  loader.load({ config: {} as VmConfig, kvm, vm, memory, vcpus: [vcpu] });
  const sink = {
    type: "sink",
    hardware: "serial",
    num: 1,
    console: false,
    earlycon: false,
    stdin: false,
    debugconPort: 0,
  };
  const uart = new Uart16550({
    irq: new RecordingIrq(),
    output: openSerialOutput(sink as never, "bench"),
    label: "serial COM1",
  });
  const io = new Bus("io");
  io.insert(uart, 0x3f8, 8);
  const mmio = new Bus("mmio");
  const profile = traced ? new ExitProfile(0, io, mmio, 50) : undefined;
  const t0 = Bun.nanoseconds();
  runVcpuLoop({
    vcpu,
    io: profile?.io ?? io,
    mmio: profile?.mmio ?? mmio,
    control: new Int32Array(2),
    maxExits: EXITS,
  });
  const ns = Bun.nanoseconds() - t0;
  vcpu.close();
  vm.close();
  releaseGuestRam(memory);
  kvm.close();
  return ns / EXITS;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const c: number[] = [];
const ts: number[] = [];
const traced: number[] = [];
for (let i = 0; i < ROUNDS; i++) {
  c.push(await cRound());
  ts.push(tsRound());
  traced.push(tsRound(true));
}
const us = (ns: number) => (ns / 1000).toFixed(3);
const best = (xs: number[]) => Math.min(...xs);
console.log(
  `exit cost over ${EXITS} port-write exits, ${ROUNDS} rounds (each round: C, then TypeScript, then TypeScript tracing)`,
);
console.log(
  `  C reference loop:  median ${us(median(c))} µs/exit, best ${us(best(c))}   (rounds: ${c.map(us).join(" ")})`,
);
console.log(
  `  our vCPU loop:     median ${us(median(ts))} µs/exit, best ${us(best(ts))}   (rounds: ${ts.map(us).join(" ")})`,
);
console.log(
  `  ours, trace on:    median ${us(median(traced))} µs/exit, best ${us(best(traced))}   (rounds: ${traced.map(us).join(" ")})`,
);
console.log(
  `  ratio ours / C:    median ${(median(ts) / median(c)).toFixed(3)}, best ${(best(ts) / best(c)).toFixed(3)}`,
);
