// virtio-net benchmark: our VMM against QEMU's virtio-net-pci, same guest (Debian kernel, busybox initramfs,
// 256 MiB, 1 vCPU), same TAP set-up where the VMM runs (a TAP made with busybox tunctl, the host's address on it,
// up), in two pairs: our user-space virtio-net against `-netdev tap,vhost=off`, and ours with `vhost-net=true`
// (issue 11: the outer VM's kernel moves the packets) against `-netdev tap,vhost=on`. In the guest and on its host
// (the outer rig VM):
//   guest -> host TCP   one stream for STREAM_SECONDS: `timeout S nc HOST PORT < /dev/zero` in the guest,
//                       `nc -l -p PORT | wc -c` on the host (bytes received / S)
//   host -> guest TCP   the same the other way
//   ping                `ping -c PINGS -i 0.2` from the guest, busybox's average round trip
//   device memory       (ours) PSS of the net device process (/proc/PID/smaps_rollup), target <= 8 MiB
// Each set-up is booted PASSES times, alternating (bench/compare.ts), and the best figure of each is kept. Prints
// the figures and ours/QEMU of each pair (targets: throughput >= 1.0x, latency <= 1.0x).
// Usage: flock /tmp/crosvm-rig.lock bun bench/net/run.ts [PASSES]   (default 1; needs dist/crosvm)
import { execWhereVmmRuns, shutdownRigs, TestVm } from "../../test/e2e/harness/test_vm.ts";
import type { VmmKind } from "../../test/e2e/harness/vmm_command.ts";
import { alternate, onHost, type RatioRow, ratioTable } from "../compare.ts";

const PASSES = Number(process.argv[2] ?? 1);
const STREAM_SECONDS = 10;
const PINGS = 20;
const TAP = "benchtap0";
const HOST = "192.168.70.1";
const GUEST = "192.168.70.2";
const MAC = "52:54:00:12:34:70";
const EXEC = { timeoutMs: 180_000 };

interface Figures {
  g2hMbits: number;
  h2gMbits: number;
  pingMs: number;
  devicePssKib: number;
}

interface Setup {
  readonly label: string;
  readonly kind: VmmKind;
  /** The kernel's vhost-net back end (ours: vhost-net=true; QEMU: vhost=on). */
  readonly vhost: boolean;
  readonly best: Figures;
}

const guest = (vm: TestVm, script: string) => vm.execChecked(script, EXEC);

/** A receiver counting the bytes of one connection (stdin held open: busybox nc half-closes at stdin's EOF). */
function counter(port: number): string {
  const hold = `/tmp/nc-hold-${port}`;
  return `rm -f ${hold} && mkfifo ${hold} && exec 3<>${hold} && nc -l -p ${port} < ${hold} | wc -c`;
}

function streamer(host: string, port: number): string {
  // nc exits 1 when nobody listens yet (then try again); timeout ends a stream with 143 (SIGTERM).
  return `for i in $(seq 60); do timeout ${STREAM_SECONDS} nc ${host} ${port} < /dev/zero; [ $? -ne 1 ] && exit 0; sleep 0.5; done; exit 1`;
}

function vmmArgs(setup: Setup): string[] {
  if (setup.kind === "crosvm")
    return ["--net", `tap-name=${TAP},mac=${MAC}${setup.vhost ? ",vhost-net=true" : ""}`];
  return [
    ...["-netdev", `tap,id=n0,ifname=${TAP},script=no,downscript=no,vhost=${setup.vhost ? "on" : "off"}`],
    // romfile=: no PXE option ROM (the rig carries no efi-virtio.rom, and a -kernel boot needs none).
    ...["-device", `virtio-net-pci,netdev=n0,mac=${MAC},romfile=`],
  ];
}

async function measure(setup: Setup, pass: number): Promise<void> {
  const { kind, best } = setup;
  await onHost(
    kind,
    [
      `ip link show ${TAP} > /dev/null 2>&1 || tunctl -t ${TAP} > /dev/null`,
      `ip addr flush dev ${TAP}`,
      `ip addr add ${HOST}/24 dev ${TAP}`,
      `ip link set ${TAP} up`,
    ].join(" && "),
  );
  const vm = await TestVm.boot({ vmm: kind, cmdline: "quiet", vmmArgs: vmmArgs(setup) });
  try {
    await guest(
      vm,
      `i=$(for d in /sys/class/net/*; do [ "$(cat $d/address)" = "${MAC}" ] && echo \${d##*/}; done); ` +
        `ip addr add ${GUEST}/24 dev $i && ip link set $i up && ping -c 1 -W 10 ${HOST} > /dev/null`,
    );
    const g2hCount = onHost(kind, counter(5101));
    await guest(vm, streamer(HOST, 5101));
    const g2h = (Number((await g2hCount).trim()) * 8) / STREAM_SECONDS / 1e6;
    const h2gCount = guest(vm, counter(5102));
    await onHost(kind, streamer(GUEST, 5102));
    const h2g = (Number((await h2gCount).trim()) * 8) / STREAM_SECONDS / 1e6;
    const ping = await guest(vm, `ping -c ${PINGS} -i 0.2 ${HOST} | tail -1`);
    const avg = Number(/= [\d.]+\/([\d.]+)\//.exec(ping)?.[1]);
    let pss = 0;
    if (kind === "crosvm") {
      const out = await onHost(
        kind,
        [
          "for p in /proc/[0-9]*; do",
          `  case "$(tr '\\0' ' ' < $p/cmdline 2> /dev/null)" in *"device-process net "*) ;; *) continue ;; esac`,
          "  readlink $p/exe | grep -q unshare && continue",
          "  grep ^Pss: $p/smaps_rollup",
          "done",
        ].join("\n"),
      );
      pss = Math.max(0, ...[...out.matchAll(/Pss:\s+(\d+)/g)].map((m) => Number(m[1])));
    }
    console.log(
      `${setup.label} pass ${pass}: guest->host ${g2h.toFixed(1)} Mbit/s, host->guest ${h2g.toFixed(1)} Mbit/s, ` +
        `ping avg ${avg.toFixed(3)} ms${kind === "crosvm" ? `, net device process PSS ${pss} KiB` : ""}`,
    );
    best.g2hMbits = Math.max(best.g2hMbits, g2h);
    best.h2gMbits = Math.max(best.h2gMbits, h2g);
    best.pingMs = Math.min(best.pingMs, avg);
    if (pss > 0) best.devicePssKib = best.devicePssKib === 0 ? pss : Math.min(best.devicePssKib, pss);
    await vm.poweroff();
    await vm.waitForExit(60_000);
  } finally {
    await vm.stop();
    await execWhereVmmRuns(`tunctl -d ${TAP} > /dev/null`, { vmm: kind }).catch(() => {});
  }
}

const noFigures = (): Figures => ({ g2hMbits: 0, h2gMbits: 0, pingMs: Infinity, devicePssKib: 0 });

try {
  const setups: Setup[] = [
    { label: "ours", kind: "crosvm", vhost: false, best: noFigures() },
    { label: "QEMU vhost=off", kind: "qemu", vhost: false, best: noFigures() },
    { label: "QEMU vhost=on", kind: "qemu", vhost: true, best: noFigures() },
    { label: "ours vhost-net", kind: "crosvm", vhost: true, best: noFigures() },
  ];
  const failed = await alternate(PASSES, setups, measure);
  const figures = (label: string) => {
    const setup = setups.find((s) => s.label === label)!;
    return failed.has(label) ? undefined : setup.best;
  };
  const pair = (ours: Figures | undefined, qemu: Figures | undefined, suffix: string): RatioRow[] => [
    {
      name: `guest -> host Mbit/s${suffix}`,
      ours: ours?.g2hMbits,
      qemu: qemu?.g2hMbits,
      higherIsBetter: true,
    },
    {
      name: `host -> guest Mbit/s${suffix}`,
      ours: ours?.h2gMbits,
      qemu: qemu?.h2gMbits,
      higherIsBetter: true,
    },
    { name: `ping round trip ms${suffix}`, ours: ours?.pingMs, qemu: qemu?.pingMs, higherIsBetter: false },
  ];
  console.log(`\nvirtio-net over TAP, one TCP stream for ${STREAM_SECONDS} s, best of ${PASSES} boots`);
  console.log("(user space: ours against QEMU vhost=off; vhost: ours vhost-net=true against QEMU vhost=on)");
  for (const line of ratioTable([
    ...pair(figures("ours"), figures("QEMU vhost=off"), ""),
    ...pair(figures("ours vhost-net"), figures("QEMU vhost=on"), ", vhost"),
  ]))
    console.log(line);
  const pss = figures("ours")?.devicePssKib ?? 0;
  console.log(
    `net device process PSS: ${(pss / 1024).toFixed(1)} MiB (target <= 8 MiB${pss > 0 && pss <= 8192 ? ", met" : ", not met"})`,
  );
} finally {
  await shutdownRigs();
}
