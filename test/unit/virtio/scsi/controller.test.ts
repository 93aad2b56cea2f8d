// The controller around the commands: configuration space (5.6.4), the control queue (5.6.6.2), the LUN field,
// and disks from the shared disk layer (src/disk).
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  VIRTIO_SCSI_S_BAD_TARGET,
  VIRTIO_SCSI_S_FUNCTION_COMPLETE,
  VIRTIO_SCSI_S_FUNCTION_REJECTED,
  VIRTIO_SCSI_S_INCORRECT_LUN,
} from "../../../../src/devices/virtio/scsi/constants.ts";
import { decodeLun } from "../../../../src/devices/virtio/scsi/device.ts";
import { SENSE } from "../../../../src/devices/virtio/scsi/sense.ts";
import { openDisk } from "../../../../src/disk/open.ts";
import { cdbs, lunField, scsiControlQueue, scsiController } from "./fixture.ts";

function config(dev: { readConfig(o: number, d: Uint8Array): void }): DataView {
  const c = new Uint8Array(36);
  dev.readConfig(0, c);
  return new DataView(c.buffer);
}

function le32(n: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n, true);
  return b;
}

function tmf(subtype: number, lun: Uint8Array): Uint8Array {
  const b = new Uint8Array(24);
  const v = new DataView(b.buffer);
  v.setUint32(0, 0, true);
  v.setUint32(4, subtype, true);
  b.set(lun, 8);
  return b;
}

describe("configuration space (5.6.4)", () => {
  test("one request queue, 254 segments, targets 0-255, LUNs to 16383, default CDB and sense sizes", () => {
    const { dev } = scsiController();

    const v = config(dev);

    expect([v.getUint32(0, true), v.getUint32(4, true), v.getUint32(16, true)]).toEqual([1, 254, 16]);
    expect([v.getUint32(20, true), v.getUint32(24, true)]).toEqual([96, 32]);
    expect([v.getUint16(28, true), v.getUint16(30, true), v.getUint32(32, true)]).toEqual([0, 255, 16383]);
  });

  test("the driver's sense_size and cdb_size are taken within bounds", () => {
    const { dev } = scsiController();

    dev.writeConfig(20, le32(64));
    dev.writeConfig(24, le32(16));

    expect([dev.senseSize, dev.cdbSize]).toEqual([64, 16]);
  });

  test("a sense_size over 252 or a cdb_size over 256 is ignored", () => {
    const { dev } = scsiController();

    dev.writeConfig(20, le32(0xffff_ffff));
    dev.writeConfig(24, le32(1 << 20));

    expect([dev.senseSize, dev.cdbSize]).toEqual([96, 32]);
  });

  test("reset restores the default sizes", () => {
    const { dev } = scsiController();
    dev.writeConfig(20, le32(32));

    dev.reset();

    expect(dev.senseSize).toBe(96);
  });

  test("a smaller cdb_size moves the data-out and data-in as the driver lays them out", () => {
    const { dev, submit } = scsiController();
    dev.writeConfig(24, le32(16));
    dev.writeConfig(20, le32(32));
    const data = new Uint8Array(512).fill(0x5a);

    expect(submit(cdbs.write10(1, 1), { dataOut: data, reqLen: 19 + 16, respLen: 12 + 32 }).status).toBe(0);
    const r = submit(cdbs.read10(1, 1), { dataInLen: 512, reqLen: 19 + 16, respLen: 12 + 32 });

    expect(r.dataIn).toEqual(data);
  });
});

describe("LUN field (5.6.6.1)", () => {
  test("flat and peripheral LUN 0 address the disk of the target", () => {
    expect(decodeLun(lunField(3), 4)).toEqual({ target: 3, lun0: true });
    expect(decodeLun(Uint8Array.of(1, 3, 0, 0, 0, 0, 0, 0), 4)).toEqual({ target: 3, lun0: true });
  });

  test("a target at or past the disk count is no address", () => {
    expect(decodeLun(lunField(4), 4)).toBeUndefined();
  });

  test("a non-zero LUN, or a second level, is not LUN 0", () => {
    expect(decodeLun(lunField(0, 5), 1)).toEqual({ target: 0, lun0: false });
    expect(decodeLun(Uint8Array.of(1, 0, 0x40, 0, 0x40, 1, 0, 0), 1)).toEqual({ target: 0, lun0: false });
  });
});

describe("control queue (5.6.6.2)", () => {
  test("LOGICAL UNIT RESET of a disk completes", () => {
    const { control } = scsiControlQueue();

    const { resp, usedLen } = control(tmf(5, lunField(0)), 1);

    expect([resp[0], usedLen]).toEqual([VIRTIO_SCSI_S_FUNCTION_COMPLETE, 1]);
  });

  test("ABORT TASK completes: no command is ever in flight", () => {
    const { control } = scsiControlQueue();

    expect(control(tmf(0, lunField(0)), 1).resp[0]).toBe(VIRTIO_SCSI_S_FUNCTION_COMPLETE);
  });

  test("a task management request for a missing target is BAD_TARGET", () => {
    const { control } = scsiControlQueue();

    expect(control(tmf(5, lunField(9)), 1).resp[0]).toBe(VIRTIO_SCSI_S_BAD_TARGET);
  });

  test("a task management request for LUN 1 is INCORRECT_LUN", () => {
    const { control } = scsiControlQueue();

    expect(control(tmf(5, lunField(0, 1)), 1).resp[0]).toBe(VIRTIO_SCSI_S_INCORRECT_LUN);
  });

  test("CLEAR ACA and unknown subtypes are rejected", () => {
    const { control } = scsiControlQueue();

    expect(control(tmf(2, lunField(0)), 1).resp[0]).toBe(VIRTIO_SCSI_S_FUNCTION_REJECTED);
    expect(control(tmf(99, lunField(0)), 1).resp[0]).toBe(VIRTIO_SCSI_S_FUNCTION_REJECTED);
  });

  test("an asynchronous notification query gets event_actual 0 and OK", () => {
    const { control } = scsiControlQueue();
    const req = new Uint8Array(16);
    req[0] = 1;
    req.set(lunField(0), 4);

    const { resp, usedLen } = control(req, 5);

    expect([Array.from(resp), usedLen]).toEqual([[0, 0, 0, 0, 0], 5]);
  });

  test("an unknown control type is used with length 0", () => {
    const { control } = scsiControlQueue();

    expect(control(le32(7), 1).usedLen).toBe(0);
  });
});

describe("disks from the shared disk layer", () => {
  let dir = "";
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "crosvm-ts-scsi-"));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  test("a write that would turn a probed raw image into qcow2 is MEDIUM ERROR / WRITE ERROR", () => {
    const path = join(dir, "raw.img");
    writeFileSync(path, new Uint8Array(1 << 20));
    const { submit } = scsiController([{ disk: openDisk(path, {}) }]);
    const header = new Uint8Array(512);
    header.set([0x51, 0x46, 0x49, 0xfb, 0, 0, 0, 3]);

    const r = submit(cdbs.write10(0, 1), { dataOut: header });

    expect([r.status, r.sense[2], r.sense[12]]).toEqual([2, SENSE.writeError.key, SENSE.writeError.asc]);
  });

  test("a qcow2 image reads and writes through the same commands", () => {
    const path = join(dir, "disk.qcow2");
    const made = Bun.spawnSync(["qemu-img", "create", "-q", "-f", "qcow2", path, "4M"]);
    if (made.exitCode !== 0) throw new Error(`qemu-img: ${made.stderr}`);
    const { submit } = scsiController([{ disk: openDisk(path, {}) }]);
    const data = new Uint8Array(4096).fill(0xa5);

    submit(cdbs.write10(100, 8), { dataOut: data });
    const r = submit(cdbs.read10(100, 8), { dataInLen: 4096 });

    expect([r.status, r.dataIn]).toEqual([0, data]);
  });
});
