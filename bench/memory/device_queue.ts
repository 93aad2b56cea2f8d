// Queue cost and memory of a real block device process, without the rig: `EXECUTABLE device-process block` (the
// compiled dist/crosvm by default) sandboxed as the VMM starts it, over a raw temp file and memfd guest memory;
// this process plays the driver (split queue, no EVENT_IDX) and KVM (it writes the queue's ioeventfd and waits
// for the vector's irqfd). Measures QD1 4 KiB random reads (best of 5 runs), then prints the device process's
// PSS and its resident executable code right after the requests and once the device has been idle for 2 s, so
// that a change meant to save memory can be checked for its cost here.
// Usage: bun bench/memory/device_queue.ts [EXECUTABLE] [REQUESTS]   (default dist/crosvm, 20000)
import {
  closeSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  realpathSync,
  rmSync,
  writeSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  EFD_CLOEXEC,
  EFD_NONBLOCK,
  eventfd,
  eventfdRead,
  eventfdWrite,
  POLLIN,
  poll,
} from "../../ffi/libc.ts";
import { VIRTIO_BLK_T_IN } from "../../src/devices/virtio/block/constants.ts";
import { featureBit, VIRTIO_F_VERSION_1 } from "../../src/devices/virtio/constants.ts";
import { DESC_BASE, FakeDriverQueue, FakeInterrupt, mulberry32 } from "../../src/devices/virtio/testing.ts";
import { startDeviceProcess } from "../../src/jail/device_process/spawn.ts";
import { createGuestRam, releaseGuestRam } from "../../src/vmm/guest_ram.ts";

// Absolute and resolved: it is matched against the pathnames in the device process's /proc/PID/smaps.
const EXECUTABLE = realpathSync(process.argv[2] ?? join(import.meta.dir, "..", "..", "dist", "crosvm"));
const N = Number(process.argv[3] ?? 20_000);
if (!Number.isInteger(N) || N < 1)
  throw new Error(`REQUESTS ${process.argv[3]}: expected a positive integer`);
const DISK_BYTES = 64 << 20;
const PAGE = 4096;
const SECTOR = 512;

const dir = mkdtempSync(join(tmpdir(), "device-queue-"));
const path = join(dir, "disk.img");
{
  const fd = openSync(path, "w");
  const chunk = new Uint8Array(1 << 20);
  for (let i = 0; i < DISK_BYTES / chunk.length; i++) writeSync(fd, chunk.fill(i & 0xff));
  closeSync(fd);
}
const pivotRoot = join(dir, "empty");
mkdirSync(pivotRoot);

const mem = createGuestRam([{ guestAddr: 0, size: 4 << 20 }], { name: "device_queue_bench" });
const queueEvent = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
const irqfds = [eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK), eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)];
const device = await startDeviceProcess({
  kind: "block",
  options: { path },
  memory: mem,
  queueEvents: [queueEvent],
  irqfds,
  sandbox: { pivotRoot },
  command: [EXECUTABLE, "device-process"],
});

// Without VIRTIO_RING_F_EVENT_IDX every used buffer signals vector 0.
const features = featureBit(VIRTIO_F_VERSION_1);
const driver = new FakeDriverQueue(256, features, 4 << 20, mem);
driver.queue.vector = 0;
device.device.ackFeatures(features);
device.device.activate(mem, new FakeInterrupt(), new Map([[0, driver.queue]]));

// One 4 KiB read chain, reused: header (virtio spec 5.2.6), a page-aligned data buffer, the status byte.
const header = driver.alloc(16);
const data = (driver.alloc(2 * PAGE) + PAGE - 1) & ~(PAGE - 1);
const status = driver.alloc(1);
mem.writeU32(header, VIRTIO_BLK_T_IN);
driver.writeLinkedDescriptors(DESC_BASE, 0, [
  { addr: header, len: 16 },
  { addr: data, len: PAGE, writable: true },
  { addr: status, len: 1, writable: true },
]);

/** One QD1 round trip: post the chain, kick the queue, wait for the interrupt, check the used entry. */
function roundTrip(sector: number): void {
  mem.writeU32(header + 8, sector);
  const before = driver.usedIdx();
  driver.publish(0);
  eventfdWrite(queueEvent);
  if (!(poll([{ fd: irqfds[0]!, events: POLLIN }], 5000)[0]! & POLLIN))
    throw new Error("no interrupt within 5 s");
  eventfdRead(irqfds[0]!);
  if (driver.usedIdx() !== ((before + 1) & 0xffff) || driver.usedElem(before).len !== PAGE + 1)
    throw new Error("request was not completed");
  if (mem.readU8(status) !== 0) throw new Error(`request failed with status ${mem.readU8(status)}`);
}

const rand = mulberry32(1);
const sectors = Array.from({ length: N }, () => (Math.floor(rand() * (DISK_BYTES / PAGE)) * PAGE) / SECTOR);
for (let i = 0; i < Math.min(N, 2000); i++) roundTrip(sectors[i]!); // warm-up (JIT, page cache)
let best = Number.POSITIVE_INFINITY;
for (let round = 0; round < 5; round++) {
  const t0 = performance.now();
  for (let i = 0; i < N; i++) roundTrip(sectors[i]!);
  best = Math.min(best, ((performance.now() - t0) * 1000) / N);
}

/** KiB summed over the "Rss:" lines of the mappings of `exe` with permissions `perms` in /proc/PID/smaps. */
function residentKiB(pid: number, exe: string, perms: string): number {
  let inside = false;
  let kib = 0;
  for (const line of readFileSync(`/proc/${pid}/smaps`, "utf8").split("\n")) {
    const header = /^[0-9a-f]+-[0-9a-f]+ (\S{4}) \S+ \S+ \d+\s*(.*)$/.exec(line);
    if (header) inside = header[1] === perms && header[2] === exe;
    const rss = /^Rss:\s+(\d+) kB$/.exec(line);
    if (rss && inside) kib += Number(rss[1]);
  }
  return kib;
}
const mib = (kib: number) => (kib / 1024).toFixed(1);
/** The device process's PSS split and its resident executable code, as one line. */
function deviceMemory(): string {
  const rollup = readFileSync(`/proc/${device.pid}/smaps_rollup`, "utf8");
  const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(rollup)?.[1] ?? 0);
  return (
    `PSS ${mib(field("Pss"))} MiB (anon ${mib(field("Pss_Anon"))}, file ${mib(field("Pss_File"))},` +
    ` shmem ${mib(field("Pss_Shmem"))}), resident executable code ${mib(residentKiB(device.pid, EXECUTABLE, "r-xp"))} MiB`
  );
}
console.log(`${EXECUTABLE}: block device process, ${N} requests per run, queue depth 1`);
console.log(`  4 KiB random read round trip (best of 5): ${best.toFixed(2)} µs`);
console.log(`  device process right after ${2000 + 5 * N} requests: ${deviceMemory()}`);
await Bun.sleep(2000);
console.log(`  device process after 2 s idle: ${deviceMemory()}`);

await device.stop();
releaseGuestRam(mem);
rmSync(dir, { recursive: true, force: true });
