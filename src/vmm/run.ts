// Builds and runs one VM from a VmConfig (crosvm's run_config): /dev/kvm, guest memory, in-kernel irqchip and
// PIT, vCPUs, devices, the boot loader, then the vCPU Workers; waits for the VM to end and returns the process
// exit status (crosvm's CommandStatus).
import { eventfdRead } from "../../ffi/libc.ts";
import {
  KVM_CAP_IOEVENTFD,
  KVM_CAP_IRQCHIP,
  KVM_CAP_IRQFD,
  KVM_CAP_PIT2,
  KVM_PIT_SPEAKER_DUMMY,
} from "../../ffi/kvm.ts";
import { IDENTITY_MAP_ADDR, MIB, TSS_ADDR, guestRamRegions } from "../arch/x86_64/layout.ts";
import { logger } from "../base/log.ts";
import { shareBus } from "../devices/shared_device.ts";
import { Kvm, KvmError } from "../hypervisor/kvm.ts";
import type { Vcpu } from "../hypervisor/vcpu.ts";
import type { Vm } from "../hypervisor/vm.ts";
import type { GuestMemory } from "../vm_memory/guest_memory.ts";
import { BiosLoader } from "./bios_loader.ts";
import { BootError, type BootLoader } from "./boot_setup.ts";
import type { VmConfig } from "./config.ts";
import { KernelBootLoader } from "./kernel_boot.ts";
import { createGuestRam, releaseGuestRam } from "./guest_ram.ts";
import { createPlatformDevices, type PlatformDevices } from "./platform_devices.ts";
import { VcpuThreads } from "./vcpu_threads.ts";
import type { VmExitState } from "./vcpu_loop.ts";

const log = logger("vmm");

/** crosvm's CommandStatus codes for --extended-status; without it every orderly VM end exits 0. */
export const EXIT_STATUS: Readonly<Record<VmExitState, number>> = { stop: 0, reset: 32, crash: 33 };

export function exitStatusFor(state: VmExitState, extendedStatus: boolean): number {
  return extendedStatus ? EXIT_STATUS[state] : 0;
}

/** How often the main thread looks at the reset eventfd the i8042 writes. */
const RESET_POLL_MS = 10;

function chooseBootLoader(config: VmConfig): BootLoader {
  if (config.bios !== undefined) return new BiosLoader(config.bios);
  if (config.kernel !== undefined) return new KernelBootLoader(config.kernel);
  throw new BootError("nothing to boot: give a kernel image or --bios FILE");
}

/**
 * Runs the VM described by `config` until it stops, resets, crashes or the VMM is signalled; resolves to the exit
 * status. Setup failures reject with an Error whose message is one line (KvmError, BootError, SysError, ...).
 */
export async function runVm(config: VmConfig): Promise<number> {
  const loader = chooseBootLoader(config);
  const cleanups: (() => void)[] = [];
  const cleanup = () => {
    for (const fn of cleanups.splice(0).reverse()) {
      try {
        fn();
      } catch (e) {
        log.warn(`cleanup: ${(e as Error).message}`);
      }
    }
  };
  let threads: VcpuThreads | undefined;
  let devices: PlatformDevices | undefined;
  try {
    const kvm = Kvm.open();
    cleanups.push(() => kvm.close());
    kvm.requireExtension(KVM_CAP_IRQCHIP, "the in-kernel interrupt controllers");
    kvm.requireExtension(KVM_CAP_PIT2, "the in-kernel PIT");
    kvm.requireExtension(KVM_CAP_IRQFD, "device interrupts");
    kvm.requireExtension(KVM_CAP_IOEVENTFD, "device notifications");
    const maxVcpus = kvm.maxVcpus();
    if (!Number.isInteger(config.cpus) || config.cpus < 1 || config.cpus > maxVcpus)
      throw new KvmError(`--cpus ${config.cpus}: expected 1..${maxVcpus} (the most /dev/kvm allows here)`);

    const ram = guestRamRegions(config.memMib * MIB);
    const memory: GuestMemory = createGuestRam([...ram, ...loader.extraRegions()]);
    cleanups.push(() => releaseGuestRam(memory));

    const vm: Vm = kvm.createVm();
    cleanups.push(() => vm.close());
    vm.setIdentityMapAddr(IDENTITY_MAP_ADDR);
    vm.setTssAddr(TSS_ADDR);
    vm.createIrqchip();
    vm.createPit2(KVM_PIT_SPEAKER_DUMMY);
    vm.addGuestMemory(memory);

    const vcpus: Vcpu[] = [];
    for (let i = 0; i < config.cpus; i++) vcpus.push(vm.createVcpu(i));
    cleanups.push(() => vcpus.forEach((v) => v.close()));

    const below4G = ram[0]!.size;
    devices = createPlatformDevices(config, vm, { below4G, above4G: ram[1]?.size ?? 0 });
    const dev = devices;
    cleanups.push(() => dev.close());

    loader.load({ config, kvm, vm, memory, vcpus });

    threads = new VcpuThreads();
    await threads.start(vcpus, shareBus(dev.io), shareBus(dev.mmio));
    return await runUntilEnd(config, threads, dev);
  } finally {
    if (threads) await threads.stop();
    devices?.legacy.stop();
    cleanup();
  }
}

async function runUntilEnd(
  config: VmConfig,
  threads: VcpuThreads,
  devices: PlatformDevices,
): Promise<number> {
  const end = Promise.withResolvers<{ state: VmExitState; why: string }>();
  const resetPoll = setInterval(() => {
    if (eventfdRead(devices.resetEventFd) > 0n)
      end.resolve({ state: "reset", why: "the guest requested a reset" });
  }, RESET_POLL_MS);
  const onSignal = (sig: NodeJS.Signals) => end.resolve({ state: "stop", why: `received ${sig}` });
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  threads.firstExit.then((o) => {
    if (o.dump) {
      log.error(o.reason);
      process.stderr.write(`${o.dump}\n`);
    }
    end.resolve({ state: o.state, why: o.reason });
  });
  try {
    devices.legacy.start();
    threads.go();
    const { state, why } = await end.promise;
    log.info(`${why}; exiting with ${state === "stop" ? "success" : state}`);
    return exitStatusFor(state, config.extendedStatus);
  } finally {
    clearInterval(resetPoll);
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
}
