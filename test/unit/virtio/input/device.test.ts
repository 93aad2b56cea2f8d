// virtio-input's queues on fake guest memory: host events reach eventq buffers in order, wait while the guest has
// none, and the driver's status events (LEDs) go back to the source; records arrive in pieces from a stream.
import { describe, expect, test } from "bun:test";
import { defaultInputConfig } from "../../../../src/devices/virtio/input/defaults.ts";
import {
  EV_KEY,
  EV_LED,
  EV_SYN,
  INPUT_EVENTQ,
  INPUT_STATUSQ,
  LED_CAPSL,
  SYN_REPORT,
  VIRTIO_ID_INPUT,
} from "../../../../src/devices/virtio/input/constants.ts";
import { INPUT_PENDING_LIMIT, VirtioInput } from "../../../../src/devices/virtio/input/device.ts";
import {
  decodeVirtioEvent,
  encodeVirtioEvent,
  type InputEvent,
  RecordStream,
} from "../../../../src/devices/virtio/input/events.ts";
import { FakeDriverQueue, FakeInterrupt } from "../../../../src/devices/virtio/testing.ts";

const KEY_A = 30;
const KEY_B = 48;
const press = (code: number, value = 1): InputEvent => ({ type: EV_KEY, code, value });
const syn: InputEvent = { type: EV_SYN, code: SYN_REPORT, value: 0 };

/** A keyboard whose status events are collected in `status`; each queue has its own fake guest memory. */
function keyboard(status: InputEvent[] = []) {
  const eventq = new FakeDriverQueue(16);
  const statusq = new FakeDriverQueue(16);
  const dev = new VirtioInput("virtio-input 0", defaultInputConfig({ kind: "keyboard", index: 0 }), {
    write: (e) => status.push(e),
  });
  return { dev, eventq, statusq };
}

function activate(dev: VirtioInput, q: FakeDriverQueue, index = INPUT_EVENTQ): FakeInterrupt {
  const irq = new FakeInterrupt();
  dev.activate(q.mem, irq, new Map([[index, q.activate()]]));
  return irq;
}

/** Posts `n` 8-byte eventq buffers, as the Linux driver does; returns their addresses. */
function post(q: FakeDriverQueue, n: number): number[] {
  return Array.from({ length: n }, () => q.addChain([{ len: 8, writable: true }]).addrs[0]!);
}

test("is device 18 with two queues of 64", () => {
  const { dev } = keyboard();
  expect([dev.deviceType, dev.queueMaxSizes]).toEqual([VIRTIO_ID_INPUT, [64, 64]]);
});

describe("eventq", () => {
  test("host events fill the posted buffers in order, one event per buffer", () => {
    const { dev, eventq } = keyboard();
    activate(dev, eventq);
    const addrs = post(eventq, 4);
    dev.queueNotify(INPUT_EVENTQ);
    dev.pushEvents([press(KEY_A), syn, press(KEY_A, 0), syn]);
    expect(addrs.map((a) => decodeVirtioEvent(eventq.mem.read(a, 8)))).toEqual([
      press(KEY_A),
      syn,
      press(KEY_A, 0),
      syn,
    ]);
    expect([eventq.usedIdx(), eventq.usedElem(0).len]).toEqual([4, 8]);
  });

  test("events wait until the guest posts buffers, then arrive in order", () => {
    const { dev, eventq } = keyboard();
    activate(dev, eventq);
    dev.pushEvents([press(KEY_A), press(KEY_B)]);
    const before = dev.pendingEvents;
    const addrs = post(eventq, 2);
    dev.queueNotify(INPUT_EVENTQ);
    expect([
      before,
      dev.pendingEvents,
      ...addrs.map((a) => decodeVirtioEvent(eventq.mem.read(a, 8)).code),
    ]).toEqual([2, 0, KEY_A, KEY_B]);
  });

  test("events pushed before the driver is ready are delivered at activation", () => {
    const { dev, eventq } = keyboard();
    dev.pushEvents([press(KEY_B)]);
    const [addr] = post(eventq, 1);
    activate(dev, eventq);
    expect(decodeVirtioEvent(eventq.mem.read(addr!, 8))).toEqual(press(KEY_B));
  });

  test("beyond the pending limit the oldest events are dropped and counted", () => {
    const { dev, eventq } = keyboard();
    activate(dev, eventq);
    dev.pushEvents(Array.from({ length: INPUT_PENDING_LIMIT + 3 }, (_, i) => press(KEY_A, i)));
    const [addr] = post(eventq, 1);
    dev.queueNotify(INPUT_EVENTQ);
    expect([dev.droppedEvents, decodeVirtioEvent(eventq.mem.read(addr!, 8)).value]).toEqual([3, 3]);
  });

  test("a buffer too small for an event is used with length 0 and the event is dropped", () => {
    const { dev, eventq } = keyboard();
    activate(dev, eventq);
    eventq.addChain([{ len: 4, writable: true }]);
    dev.pushEvents([press(KEY_A)]);
    expect([eventq.usedIdx(), eventq.usedElem(0).len, dev.droppedEvents]).toEqual([1, 0, 1]);
  });

  test("a used buffer raises the queue's interrupt", () => {
    const { dev, eventq } = keyboard();
    const irq = activate(dev, eventq);
    post(eventq, 1);
    dev.pushEvents([press(KEY_A)]);
    expect(irq.usedQueueVectors.length).toBe(1);
  });
});

describe("statusq", () => {
  test("an LED event from the driver goes to the source", () => {
    const status: InputEvent[] = [];
    const { dev, statusq } = keyboard(status);
    activate(dev, statusq, INPUT_STATUSQ);
    statusq.addChain([{ data: encodeVirtioEvent({ type: EV_LED, code: LED_CAPSL, value: 1 }) }]);
    dev.queueNotify(INPUT_STATUSQ);
    expect([status, statusq.usedIdx()]).toEqual([[{ type: EV_LED, code: LED_CAPSL, value: 1 }], 1]);
  });

  test("a status event the device does not list is refused and not passed on", () => {
    const status: InputEvent[] = [];
    const { dev, statusq } = keyboard(status);
    activate(dev, statusq, INPUT_STATUSQ);
    statusq.addChain([{ data: encodeVirtioEvent({ type: EV_LED, code: 9, value: 1 }) }]);
    dev.queueNotify(INPUT_STATUSQ);
    expect([status.length, dev.refusedStatus, statusq.usedIdx()]).toEqual([0, 1, 1]);
  });
});

describe("a stream of event records", () => {
  const config = defaultInputConfig({ kind: "keyboard", index: 0 });
  const bytes = (...events: InputEvent[]) => {
    const out = new Uint8Array(8 * events.length);
    events.forEach((e, i) => encodeVirtioEvent(e, out.subarray(8 * i)));
    return out;
  };

  test("a partial record waits for the rest", () => {
    const stream = new RecordStream(8, decodeVirtioEvent, config);
    const all = bytes(press(KEY_A), press(KEY_B));
    const first = stream.push(all.subarray(0, 5));
    const pending = stream.pendingBytes;
    const second = stream.push(all.subarray(5, 13));
    const third = stream.push(all.subarray(13));
    expect([first, pending, second, third]).toEqual([[], 5, [press(KEY_A)], [press(KEY_B)]]);
  });

  test("a malformed record is dropped and counted; the ones around it pass", () => {
    const stream = new RecordStream(8, decodeVirtioEvent, config);
    const events = stream.push(bytes(press(KEY_A), { type: 0x40, code: 0, value: 0 }, press(KEY_B)));
    expect([events, stream.malformed]).toEqual([[press(KEY_A), press(KEY_B)], 1]);
  });

  test("an event type or code the device does not report counts as malformed", () => {
    const stream = new RecordStream(8, decodeVirtioEvent, config);
    stream.push(
      bytes(
        { type: 3, code: 0, value: 5 },
        { type: EV_KEY, code: 0x2fe, value: 1 },
        { type: EV_KEY, code: 0x300, value: 1 },
      ),
    );
    expect(stream.malformed).toBe(3);
  });
});
