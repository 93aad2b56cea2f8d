// The host side of test/e2e/input.test.ts, run where the VMM runs (the outer rig VM) by the VMM executable itself
// (BUN_BE_BUN=1 crosvm input_host_helper.ts ...), so it is self-contained: node and bun:ffi only.
//
//   serve-keys SOCK GO     listen on SOCK (the --input keyboard event source); once GO exists, send key presses
//                          as struct virtio_input_event records, split mid-record and with a malformed record
//                          between them; keep the connection open
//   serve-close SOCK       listen on SOCK, accept the VMM's connection, close it after a moment, touch SOCK.closed
//   uinput NAME OUT GO     make a host event device NAME with /dev/uinput (keys, ABS_X 0..4095, ids 1234:5678),
//                          write its /dev/input/eventN to OUT; once GO exists, emit KEY_C press and release
//   all DIR NAME           one process for the three above: DIR/keys.sock with DIR/go-keys, DIR/touch.sock,
//                          and the uinput device NAME with DIR/uinput.path and DIR/go-uinput
//   try-grab DEV           print "busy" if another reader holds DEV grabbed (EVIOCGRAB fails with EBUSY), else "free"
import { dlopen, FFIType, ptr, toArrayBuffer } from "bun:ffi";
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Socket } from "node:net";

const EV_SYN = 0;
const EV_KEY = 1;
const EV_ABS = 3;
const KEY_A = 30;
const KEY_B = 48;
const KEY_C = 46;
const ABS_X = 0;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor(path: string): Promise<void> {
  while (!existsSync(path)) await sleep(50);
}

/** struct virtio_input_event: le16 type, le16 code, le32 value. */
function record(type: number, code: number, value: number): Uint8Array {
  const out = new Uint8Array(8);
  const v = new DataView(out.buffer);
  v.setUint16(0, type, true);
  v.setUint16(2, code, true);
  v.setInt32(4, value, true);
  return out;
}

function listenOnce(path: string, onConnection: (s: Socket) => void): void {
  rmSync(path, { force: true });
  const server = createServer((socket) => {
    server.close();
    onConnection(socket);
  });
  server.listen(path);
}

const libc = dlopen("libc.so.6", {
  open: { args: [FFIType.cstring, FFIType.i32], returns: FFIType.i32 },
  ioctl: { args: [FFIType.i32, FFIType.u64, FFIType.u64], returns: FFIType.i32 },
  write: { args: [FFIType.i32, FFIType.ptr, FFIType.u64], returns: FFIType.i64 },
  __errno_location: { args: [], returns: FFIType.ptr },
}).symbols;

function cstr(s: string): Buffer {
  return Buffer.from(`${s}\0`);
}

function ioctl(fd: number, request: number, arg: Uint8Array | number, what: string): number {
  const ret = libc.ioctl(fd, request, typeof arg === "number" ? arg : Number(ptr(arg)));
  if (ret < 0) throw new Error(`${what} failed (ret ${ret})`);
  return ret;
}

/** struct input_event with a zero timestamp: 16 bytes of timeval, u16 type, u16 code, s32 value. */
function emit(fd: number, type: number, code: number, value: number): void {
  const ev = new Uint8Array(24);
  ev.set(record(type, code, value), 16);
  if (Number(libc.write(fd, ptr(ev), 24)) !== 24) throw new Error("uinput write failed");
}

// include/uapi/linux/uinput.h ('U' = 0x55), values checked against a C program's printf.
const UI_DEV_CREATE = 0x5501;
const UI_DEV_SETUP = 0x405c5503;
const UI_ABS_SETUP = 0x401c5504;
const UI_SET_EVBIT = 0x40045564;
const UI_SET_KEYBIT = 0x40045565;
const UI_SET_ABSBIT = 0x40045567;
const EVIOCGRAB = 0x40044590;
const O_RDWR = 2;
const O_RDONLY = 0;
const EBUSY = 16;

async function uinput(name: string, out: string, go: string): Promise<void> {
  const fd = libc.open(cstr("/dev/uinput"), O_RDWR);
  if (fd < 0) throw new Error("cannot open /dev/uinput");
  ioctl(fd, UI_SET_EVBIT, EV_KEY, "UI_SET_EVBIT(EV_KEY)");
  for (const key of [KEY_A, KEY_B, KEY_C]) ioctl(fd, UI_SET_KEYBIT, key, "UI_SET_KEYBIT");
  ioctl(fd, UI_SET_EVBIT, EV_ABS, "UI_SET_EVBIT(EV_ABS)");
  ioctl(fd, UI_SET_ABSBIT, ABS_X, "UI_SET_ABSBIT");
  // struct uinput_abs_setup: u16 code, (2 bytes padding), struct input_absinfo {value, min, max, fuzz, flat, res}.
  const abs = new Uint8Array(28);
  const absView = new DataView(abs.buffer);
  absView.setUint16(0, ABS_X, true);
  absView.setInt32(12, 4095, true); // maximum
  absView.setInt32(24, 7, true); // resolution
  ioctl(fd, UI_ABS_SETUP, abs, "UI_ABS_SETUP");
  // struct uinput_setup: struct input_id {bustype, vendor, product, version}, char name[80], u32 ff_effects_max.
  const setup = new Uint8Array(92);
  const setupView = new DataView(setup.buffer);
  setupView.setUint16(0, 0x06, true); // BUS_VIRTUAL
  setupView.setUint16(2, 0x1234, true);
  setupView.setUint16(4, 0x5678, true);
  setupView.setUint16(6, 1, true);
  setup.set(Buffer.from(name), 8);
  ioctl(fd, UI_DEV_SETUP, setup, "UI_DEV_SETUP");
  ioctl(fd, UI_DEV_CREATE, 0, "UI_DEV_CREATE");
  let node: string | undefined;
  for (let i = 0; i < 100 && node === undefined; i++) {
    for (const e of readdirSync("/sys/class/input").filter((d) => d.startsWith("event"))) {
      const devName = readFileSync(`/sys/class/input/${e}/device/name`, "utf8").trim();
      if (devName === name && existsSync(`/dev/input/${e}`)) node = `/dev/input/${e}`;
    }
    if (node === undefined) await sleep(50);
  }
  if (node === undefined) throw new Error(`no /dev/input/event* for ${name}`);
  writeFileSync(out, node);
  await waitFor(go);
  emit(fd, EV_KEY, KEY_C, 1);
  emit(fd, EV_SYN, 0, 0);
  emit(fd, EV_KEY, KEY_C, 0);
  emit(fd, EV_SYN, 0, 0);
  // Keep the device (and its fd) while the VM runs; the test kills this process.
  setInterval(() => {}, 1 << 30);
}

function tryGrab(dev: string): void {
  const fd = libc.open(cstr(dev), O_RDONLY);
  if (fd < 0) throw new Error(`cannot open ${dev}`);
  const ret = libc.ioctl(fd, EVIOCGRAB, 1);
  // A failed grab is what the test looks for; errno says whether another reader holds the device.
  const errno = ret < 0 ? new Int32Array(toArrayBuffer(libc.__errno_location()!, 0, 4))[0] : 0;
  console.log(ret === 0 ? "free" : errno === EBUSY ? "busy" : `error ${errno}`);
}

function serveKeys(sock: string, go: string): void {
  listenOnce(sock, async (socket) => {
    await waitFor(go);
    const first = Buffer.concat([
      record(EV_KEY, KEY_A, 1),
      record(EV_SYN, 0, 0),
      record(EV_KEY, KEY_A, 0),
      record(EV_SYN, 0, 0),
    ]);
    // Half a record first: the device must wait for its other half.
    socket.write(first.subarray(0, 3));
    await sleep(300);
    socket.write(first.subarray(3));
    // A record no keyboard reports (event type 0x40 is beyond EV_MAX): dropped and counted by the device.
    socket.write(record(0x40, 1, 1));
    socket.write(
      Buffer.concat([
        record(EV_KEY, KEY_B, 1),
        record(EV_SYN, 0, 0),
        record(EV_KEY, KEY_B, 0),
        record(EV_SYN, 0, 0),
      ]),
    );
  });
}

function serveClose(sock: string): void {
  listenOnce(sock, async (socket) => {
    await sleep(500);
    socket.destroy();
    writeFileSync(`${sock}.closed`, "");
  });
}

const [command, ...args] = process.argv.slice(2);
switch (command) {
  case "serve-keys":
    serveKeys(args[0]!, args[1]!);
    break;
  case "serve-close":
    serveClose(args[0]!);
    break;
  case "uinput":
    await uinput(args[0]!, args[1]!, args[2]!);
    break;
  case "all": {
    const [dir, name] = args as [string, string];
    serveKeys(`${dir}/keys.sock`, `${dir}/go-keys`);
    serveClose(`${dir}/touch.sock`);
    await uinput(name, `${dir}/uinput.path`, `${dir}/go-uinput`);
    break;
  }
  case "try-grab":
    tryGrab(args[0]!);
    break;
  default:
    console.error(`input_host_helper: unknown command ${command}`);
    process.exit(2);
}
