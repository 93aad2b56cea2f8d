// Builds and runs one VM from a VmConfig (crosvm's run_config): /dev/kvm, guest memory, in-kernel irqchip and
// PIT, vCPUs, devices, the boot loader, then the vCPU Workers; waits for the VM to end and returns the process
// exit status (crosvm's CommandStatus, src/vm_control/exit_status.ts). With --socket it serves the control socket
// (vm_controller.ts) while the VM runs.
import { writeFileSync } from "node:fs";
import type { DebugExit } from "../../ffi/kvm_debug.ts";
import {
  TRACE_SLICE_MS,
  TRACE_TID,
  TraceRecorder,
  epochToTraceUs,
  setActiveTrace,
} from "../base/trace_events.ts";
import { validateBlockImages } from "../disk/validate.ts";
import type { GuestMemory } from "../vm_memory/guest_memory.ts";
import type { ExitSlice } from "./exit_profile.ts";
import { GdbServer } from "./gdb/server.ts";
import { VmDebugTarget } from "./gdb/vm_target.ts";
import { eventfdRead } from "../../ffi/libc.ts";
import {
  KVM_CAP_IOEVENTFD,
  KVM_CAP_IRQCHIP,
  KVM_CAP_IRQFD,
  KVM_CAP_PIT2,
  KVM_PIT_SPEAKER_DUMMY,
} from "../../ffi/kvm.ts";
import { physAddrBits } from "../arch/x86_64/cpuid.ts";
import { IDENTITY_MAP_ADDR, TSS_ADDR } from "../arch/x86_64/layout.ts";
import { logger } from "../base/log.ts";
import { WaitLoop } from "../base/wait_loop.ts";
import { shareBus } from "../devices/shared_device.ts";
import { Kvm, KvmError } from "../hypervisor/kvm.ts";
import type { Vcpu } from "../hypervisor/vcpu.ts";
import type { Vm } from "../hypervisor/vm.ts";
import {
  COMMAND_STATUS_MESSAGE,
  ERROR_EXIT_CODE,
  commandStatusFor,
  exitCodeFor,
  type ExitState,
} from "../vm_control/exit_status.ts";
import { executableStartupPages, releasePages } from "../jail/device_process/startup_pages.ts";
import { ControlServer } from "../vm_control/server.ts";
import { BiosLoader } from "./bios_loader.ts";
import { BootError, type BootLoader, type GuestRange } from "./boot_setup.ts";
import type { VmConfig } from "./config.ts";
import { GuestClock } from "./guest_clock.ts";
import { hostShmemHugePagesRefused, releaseGuestRam } from "./guest_ram.ts";
import { createSizedGuestRam } from "./guest_ram_size.ts";
import { AHEAD_MAX_MS, aheadBudgetBytes, startRamCollapse, stopsCollapse } from "./ram_collapse.ts";
import { KernelBootLoader } from "./kernel_boot.ts";
import { MainThreadHub } from "./main_thread_hub.ts";
import { createPlatformDevices, type PlatformDevices } from "./platform_devices.ts";
import { traceStartup } from "./startup_trace.ts";
import { VcpuThreads } from "./vcpu_threads.ts";
import { VmController } from "./vm_controller.ts";

const log = logger("vmm");

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
  const trace = config.traceFile !== undefined ? openTrace(config.traceFile) : undefined;
  traceStartup("VM setup begins");
  const loader = chooseBootLoader(config);
  // Every --block image is checked before anything starts: a bad one is one line naming the option and file.
  // --scsi-block images too, in the same pass: one writable image named by both options conflicts.
  validateBlockImages([
    ...config.disks,
    ...(config.scsiDisks ?? []).map((d) => ({ ...d, option: "--scsi-block" })),
  ]);
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
  const hub = new MainThreadHub();
  const gdb: { target?: VmDebugTarget } = {};
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
    // The vCPU Workers' runtimes come up in their threads while this one sets up the VM.
    threads = new VcpuThreads({
      ...(config.gdb !== undefined
        ? {
            onDebugExit: (cpu: number, exit: DebugExit) =>
              void gdb.target
                ?.handleDebugExit(cpu, exit)
                .catch((e) => log.error(`gdb stub: ${(e as Error).message}`)),
          }
        : {}),
      ...(trace ? { traceSliceMs: TRACE_SLICE_MS } : {}),
    });
    threads.preload(config.cpus);

    const { ram, memory } = createSizedGuestRam(
      config.memMib,
      physAddrBits(kvm.supportedCpuid()),
      loader.extraRegions(),
      { hugepages: config.hugepages },
    );
    if (config.hugepages) {
      const refused = hostShmemHugePagesRefused();
      if (refused) log.warn(`--hugepages: guest RAM stays in 4 KiB pages: ${refused}`);
    }
    cleanups.push(() => releaseGuestRam(memory));

    const vm: Vm = kvm.createVm();
    cleanups.push(() => vm.close());
    vm.setIdentityMapAddr(IDENTITY_MAP_ADDR);
    vm.setTssAddr(TSS_ADDR);
    vm.createIrqchip();
    vm.createPit2(KVM_PIT_SPEAKER_DUMMY);
    vm.addGuestMemory(memory);
    traceStartup("VM and guest memory created");

    const vcpus: Vcpu[] = [];
    for (let i = 0; i < config.cpus; i++) vcpus.push(vm.createVcpu(i));
    cleanups.push(() => vcpus.forEach((v) => v.close()));

    const below4G = ram[0]!.size;
    const devicesStarting = createPlatformDevices(config, vm, memory, hub, {
      below4G,
      above4G: ram[1]?.size ?? 0,
    });
    // Guest RAM in 2 MiB pages where the boot writes first (ram_collapse.ts; what QEMU's anonymous RAM gets from
    // THP, bench/boot-time/README.md has the cost and the gain): the ranges the loader names, up to a bound
    // (aheadBudgetBytes, AHEAD_MAX_MS), collapsed before the first KVM_RUN, so that no page is taken from under a
    // running guest. Its thread starts up while the kernel loads. With --hugepages the collapser then goes on with
    // the ranges the guest touches. That is not the default: in the nested rig, boots with it running reset or hung
    // before their first console line (twice in one CI run, never without it), so guest RAM may be at risk from
    // some host kernel or hypervisor under it. Not with a balloon that starts inflated (--init-mem), and stopped
    // before the first inflate: a collapse would take ballooned pages back.
    const bootWrites = Promise.withResolvers<readonly GuestRange[]>();
    const collapse = startRamCollapse(memory, bootWrites.promise, {
      aheadBudgetBytes: aheadBudgetBytes(ram.reduce((n, r) => n + r.size, 0)),
      aheadMaxMs: AHEAD_MAX_MS,
      running: config.hugepages && config.initMemMib === undefined,
    });
    const stopCollapse = async () => collapse.stop();
    cleanups.push(() => void stopCollapse());
    // The device processes come up on their own while this thread loads the kernel: neither needs the other.
    let loadError: unknown;
    try {
      loader.load({ config, kvm, vm, memory, vcpus });
      traceStartup("kernel loaded");
    } catch (e) {
      loadError = e;
    }
    bootWrites.resolve(loadError === undefined ? loader.bootWrites() : []);
    devices = await devicesStarting;
    if (loadError !== undefined) throw loadError;
    const dev = devices;
    traceStartup("devices created");
    await collapse.ready;
    traceStartup("guest RAM collapsed ahead of the guest");

    await threads.start(vcpus, shareBus(dev.io), shareBus(dev.mmio));
    traceStartup("vCPU threads ready");
    return await runUntilEnd(config, vm, threads, dev, hub, { vcpus, memory, gdb }, stopCollapse);
  } finally {
    if (threads) await threads.stop();
    hub.close();
    devices?.legacy.stop();
    await devices?.close();
    if (trace) finishTrace(trace, threads?.exitSlices ?? [], config.cpus);
    cleanup();
  }
}

interface VmEnd {
  readonly state: ExitState;
  readonly why: string;
  /** The VMM failed (a device process died): exit with ERROR_EXIT_CODE whatever --extended-status says. */
  readonly failed?: boolean;
}

/** Watches the devices' end events (non-blocking eventfds) on the wait loop; returns the function that stops. */
function watchEndEvents(devices: PlatformDevices, finish: (end: VmEnd) => void): () => void {
  const watches = devices.endEvents.map((ev) =>
    WaitLoop.shared().watch(ev.fd, `the ${ev.state} eventfd`, () => {
      if (eventfdRead(ev.fd) > 0n) finish(ev);
    }),
  );
  return () => watches.forEach((w) => w.cancel());
}

/** The control socket's handler, wired to this VM's vCPUs, clock and devices. */
function controllerFor(
  vm: Vm,
  threads: VcpuThreads,
  devices: PlatformDevices,
  finish: (end: VmEnd) => void,
  stopCollapse: () => Promise<void>,
): VmController {
  const clock = new GuestClock(vm.fd);
  return new VmController({
    pauseVcpus: () => threads.pause(),
    resumeVcpus: () => threads.resume(),
    freezeClock: () => clock.freeze(),
    thawClock: () => clock.thaw(),
    sleepDevices: () => devices.sleep(),
    wakeDevices: () => devices.wake(),
    pressPowerButton: () => devices.acpi.pressPowerButton(),
    diskResize: (index, newSize) => devices.diskResize(index, newSize),
    balloon: async (command) => {
      // Before the inflate, and once no collapse can fill the holes it punches (ram_collapse.ts).
      if (stopsCollapse(command)) await stopCollapse();
      return devices.balloon(command);
    },
    hotplugNet: (command) => devices.hotplugNet(command),
    requestExit: () => finish({ state: "Stop", why: "stopped through the control socket" }),
  });
}

/** --trace-file: the recorder, after checking that the file can be written (one line naming the option if not). */
function openTrace(path: string): TraceRecorder {
  try {
    writeFileSync(path, "");
  } catch (e) {
    throw new Error(`--trace-file ${path}: cannot write: ${(e as Error).message}`);
  }
  const recorder = new TraceRecorder(path);
  setActiveTrace(recorder);
  return recorder;
}

/** Adds the vCPUs' exit slices and writes the trace file. */
function finishTrace(trace: TraceRecorder, slices: readonly ExitSlice[], cpus: number): void {
  setActiveTrace(undefined);
  for (let cpu = 0; cpu < cpus; cpu++) trace.threadName(TRACE_TID.vcpu(cpu), `vCPU ${cpu}`);
  for (const s of slices) {
    const count = Object.values(s.exits).reduce((n, e) => n + e.count, 0);
    const exits = Object.fromEntries(Object.entries(s.exits).map(([label, e]) => [label, e.count]));
    trace.span("vcpu", `${count} exits`, epochToTraceUs(s.startMs), s.durMs * 1000, TRACE_TID.vcpu(s.cpu), {
      exits,
      answerMs: Object.values(s.exits).reduce((n, e) => n + e.ms, 0),
    });
  }
  try {
    trace.write();
  } catch (e) {
    log.error(`--trace-file ${trace.path}: cannot write: ${(e as Error).message}`);
  }
}

interface DebugContext {
  readonly vcpus: readonly Vcpu[];
  readonly memory: GuestMemory;
  readonly gdb: { target?: VmDebugTarget };
}

async function runUntilEnd(
  config: VmConfig,
  vm: Vm,
  threads: VcpuThreads,
  devices: PlatformDevices,
  hub: MainThreadHub,
  debug: DebugContext,
  stopCollapse: () => Promise<void>,
): Promise<number> {
  const end = Promise.withResolvers<VmEnd>();
  const finish = (e: VmEnd) => end.resolve(e);
  const onSignal = (sig: NodeJS.Signals) => finish({ state: "Stop", why: `received ${sig}` });
  let stopWatching: (() => void) | undefined;
  let server: ControlServer | undefined;
  let gdbServer: GdbServer | undefined;
  try {
    // Listen before the guest starts, so that a socket that cannot be bound fails the run before it begins.
    // Requests are served from the wait loop, on this thread after this function yields, so none reaches the vCPUs
    // before go() below.
    if (config.socket !== undefined)
      server = ControlServer.listen(config.socket, controllerFor(vm, threads, devices, finish, stopCollapse));
    stopWatching = watchEndEvents(devices, finish);
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
    threads.firstExit.then((o) => {
      // A guest that asked for a reset or poweroff and then triple-faulted (Linux tries every reboot method in
      // turn) ends the way it asked, not as a crash.
      for (const ev of devices.endEvents) if (eventfdRead(ev.fd) > 0n) return finish(ev);
      if (o.dump) {
        log.error(o.reason);
        process.stderr.write(`${o.dump}\n`);
      }
      finish({ state: o.state, why: o.reason });
    });
    devices.deviceFailure.then((message) => finish({ state: "Crash", why: message, failed: true }));
    hub.start();
    devices.legacy.start();
    if (config.gdb !== undefined) {
      const t = threads;
      debug.gdb.target = new VmDebugTarget({
        vcpus: debug.vcpus,
        memory: debug.memory,
        pause: () => t.pause(),
        resume: () => t.resume(),
        kill: () => finish({ state: "Stop", why: "killed by gdb" }),
      });
      gdbServer = GdbServer.listen(config.gdb, debug.gdb.target);
      // crosvm's gdb stub: the vCPUs wait at their first instruction until the debugger lets them run.
      await threads.goPaused();
    } else threads.go();
    traceStartup("first KVM_RUN");
    // Start-up touched ~30 MiB of the executable that the running VMM no longer needs (startup_pages.ts);
    // dropping those clean file pages is what reclaim could do anyway, so a failure here only costs memory.
    try {
      releasePages(executableStartupPages());
    } catch (e) {
      log.debug(`keeping the executable's start-up pages: ${(e as Error).message}`);
    }
    const { state, why, failed } = await end.promise;
    if (failed) {
      log.error(`${why}; stopping the VM`);
      return ERROR_EXIT_CODE;
    }
    log.info(`${why}; ${COMMAND_STATUS_MESSAGE[commandStatusFor(state)]}`);
    return exitCodeFor(state, config.extendedStatus);
  } finally {
    stopWatching?.();
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    gdbServer?.stop();
    // Answers requests in flight (the Exit that ended the VM), then removes the socket file.
    await server?.close();
  }
}
