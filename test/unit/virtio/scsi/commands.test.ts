// Commands end to end on fake guest memory: the request framed as Linux's virtio_scsi builds it, executed on an
// in-memory disk, the response (status, sense, residual) and data-in checked.
import { describe, expect, test } from "bun:test";
import {
  CHECK_CONDITION,
  GOOD,
  VIRTIO_SCSI_S_BAD_TARGET,
  VIRTIO_SCSI_S_FAILURE,
  VIRTIO_SCSI_S_OK,
  VIRTIO_SCSI_S_OVERRUN,
} from "../../../../src/devices/virtio/scsi/constants.ts";
import { MAX_UNMAP_DESCRIPTORS } from "../../../../src/devices/virtio/scsi/logical_unit.ts";
import { SENSE, type Sense } from "../../../../src/devices/virtio/scsi/sense.ts";
import { type Submitted, cdb, cdbs, scsiController, unmapList } from "./fixture.ts";

const MiB = 1 << 20;

function pattern(n: number, seed: number): Uint8Array<ArrayBuffer> {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed) & 0xff;
  return b;
}

function expectGood(r: Submitted): void {
  expect({ response: r.response, status: r.status, senseLen: r.senseLen }).toEqual({
    response: VIRTIO_SCSI_S_OK,
    status: GOOD,
    senseLen: 0,
  });
}

function expectCheck(r: Submitted, sense: Sense): void {
  expect({ response: r.response, status: r.status, senseLen: r.senseLen }).toEqual({
    response: VIRTIO_SCSI_S_OK,
    status: CHECK_CONDITION,
    senseLen: 18,
  });
  expect({ code: r.sense[0], key: r.sense[2], asc: r.sense[12], ascq: r.sense[13] }).toEqual({
    code: 0x70,
    key: sense.key,
    asc: sense.asc,
    ascq: sense.ascq,
  });
}

const text = (b: Uint8Array) => new TextDecoder().decode(b);

describe("INQUIRY", () => {
  test("standard data: a direct-access SPC-3 disk named CROSVM", () => {
    const { submit } = scsiController();

    const r = submit(cdbs.inquiry(36), { dataInLen: 36 });

    expectGood(r);
    expect([r.dataIn[0], r.dataIn[2], r.dataIn[3]! & 0x0f, r.dataIn[4]]).toEqual([0x00, 0x05, 2, 31]);
    expect(text(r.dataIn.subarray(8, 32))).toBe("CROSVM  CROSVM HARDDISK ");
  });

  test("the data is cut to the allocation length and the rest of the buffer is the residual", () => {
    const { submit } = scsiController();

    const r = submit(cdbs.inquiry(5), { dataInLen: 96 });

    expectGood(r);
    expect(r.resid).toBe(91);
    expect(r.usedLen).toBe(12 + 96 + 5);
  });

  test("VPD page 00h lists 00h, 80h, 83h, B0h and B2h", () => {
    const { submit } = scsiController();

    const r = submit(cdbs.inquiry(255, 0x00), { dataInLen: 255 });

    expectGood(r);
    expect(Array.from(r.dataIn.subarray(0, 9))).toEqual([0, 0x00, 0, 5, 0x00, 0x80, 0x83, 0xb0, 0xb2]);
  });

  test("VPD page 80h gives the unit serial number of the target", () => {
    const { submit } = scsiController([{}, {}]);

    const r = submit(cdbs.inquiry(255, 0x80), { dataInLen: 255, target: 1 });

    expectGood(r);
    expect(text(r.dataIn.subarray(4, 4 + r.dataIn[3]!))).toBe("crosvm-scsi-1");
  });

  test("VPD page 83h has one ASCII T10 vendor ID designator for the logical unit", () => {
    const { submit } = scsiController();

    const r = submit(cdbs.inquiry(255, 0x83), { dataInLen: 255 });

    expectGood(r);
    const length = (r.dataIn[2]! << 8) | r.dataIn[3]!;
    expect([r.dataIn[4], r.dataIn[5], r.dataIn[7]! + 4]).toEqual([0x02, 0x01, length]);
    expect(text(r.dataIn.subarray(8, 8 + r.dataIn[7]!))).toBe("CROSVM  crosvm-scsi-0");
  });

  test("VPD page B0h gives WSNZ, the transfer, unmap and write-same limits", () => {
    const { submit } = scsiController();

    const r = submit(cdbs.inquiry(64, 0xb0), { dataInLen: 64 });

    expectGood(r);
    const v = new DataView(r.dataIn.buffer);
    expect(v.getUint16(2)).toBe(0x3c);
    expect(r.dataIn[4]).toBe(1);
    expect(v.getUint32(8)).toBe(0xffff);
    expect(v.getUint32(24)).toBe(MAX_UNMAP_DESCRIPTORS);
    expect(v.getBigUint64(36)).toBe(BigInt((1 << 30) / 512));
  });

  test("VPD page B2h announces UNMAP and WRITE SAME(16)/(10) with UNMAP, thin provisioned", () => {
    const { submit } = scsiController();

    const r = submit(cdbs.inquiry(8, 0xb2), { dataInLen: 8 });

    expectGood(r);
    expect(Array.from(r.dataIn)).toEqual([0, 0xb2, 0, 4, 0, 0xe0, 0x02, 0]);
  });

  test("an unknown VPD page is INVALID FIELD IN CDB", () => {
    const { submit } = scsiController();

    expectCheck(submit(cdbs.inquiry(255, 0xb1), { dataInLen: 255 }), SENSE.invalidFieldInCdb);
  });
});

describe("capacity, readiness and LUNs", () => {
  test("TEST UNIT READY is GOOD", () => {
    const { submit } = scsiController();

    expectGood(submit(cdbs.testUnitReady()));
  });

  test("READ CAPACITY(10) gives the last LBA and the block length", () => {
    const { submit } = scsiController([{ size: 8 * MiB, blockSize: 4096 }]);

    const r = submit(cdbs.readCapacity10(), { dataInLen: 8 });

    expectGood(r);
    const v = new DataView(r.dataIn.buffer);
    expect([v.getUint32(0), v.getUint32(4)]).toEqual([2047, 4096]);
  });

  test("READ CAPACITY(16) gives the last LBA, the block length and LBPME", () => {
    const { submit } = scsiController([{ size: MiB }]);

    const r = submit(cdbs.readCapacity16(32), { dataInLen: 32 });

    expectGood(r);
    const v = new DataView(r.dataIn.buffer);
    expect([v.getBigUint64(0), v.getUint32(8), r.dataIn[14]]).toEqual([2047n, 512, 0x80]);
  });

  test("REPORT LUNS lists LUN 0 alone", () => {
    const { submit } = scsiController();

    const r = submit(cdbs.reportLuns(16), { dataInLen: 16 });

    expectGood(r);
    expect(Array.from(r.dataIn)).toEqual([0, 0, 0, 8, ...new Array(12).fill(0)]);
  });

  test("REPORT LUNS with an allocation length under 16 is INVALID FIELD IN CDB", () => {
    const { submit } = scsiController();

    expectCheck(submit(cdbs.reportLuns(8), { dataInLen: 16 }), SENSE.invalidFieldInCdb);
  });

  test("REQUEST SENSE answers NO SENSE (sense comes with each command)", () => {
    const { submit } = scsiController();

    const r = submit(cdbs.requestSense(18), { dataInLen: 18 });

    expectGood(r);
    expect([r.dataIn[0], r.dataIn[2], r.dataIn[12]]).toEqual([0x70, 0, 0]);
  });
});

describe("MODE SENSE", () => {
  test("(6) of all pages: header, block descriptor, pages 01h, 08h (WCE) and 0Ah", () => {
    const { submit } = scsiController([{ size: MiB }]);

    const r = submit(cdbs.modeSense6(0x3f, 255), { dataInLen: 255 });

    expectGood(r);
    const d = r.dataIn;
    expect([d[0], d[2], d[3]]).toEqual([4 + 8 + 44 - 1, 0x00, 8]);
    expect(new DataView(d.buffer).getUint32(4)).toBe(2048);
    expect([d[12], d[24], d[26], d[44]]).toEqual([0x01, 0x08, 0x04, 0x0a]);
  });

  test("(6) on a read-only disk sets WP in the device-specific parameter", () => {
    const { submit } = scsiController([{ readOnly: true }]);

    const r = submit(cdbs.modeSense6(0x08, 255, 0, true), { dataInLen: 255 });

    expectGood(r);
    expect([r.dataIn[2], r.dataIn[3], r.dataIn[4]]).toEqual([0x80, 0, 0x08]);
  });

  test("(10) has the 8-byte header with WP and the block descriptor length", () => {
    const { submit } = scsiController([{ readOnly: true }]);

    const r = submit(cdbs.modeSense10(0x0a, 512), { dataInLen: 512 });

    expectGood(r);
    const v = new DataView(r.dataIn.buffer);
    expect([v.getUint16(0), r.dataIn[3], v.getUint16(6), r.dataIn[16]]).toEqual([
      8 + 8 + 12 - 2,
      0x80,
      8,
      0x0a,
    ]);
  });

  test("saved values are SAVING PARAMETERS NOT SUPPORTED", () => {
    const { submit } = scsiController();

    expectCheck(
      submit(cdbs.modeSense6(0x08, 255, 3), { dataInLen: 255 }),
      SENSE.savingParametersNotSupported,
    );
  });

  test("a page the disk does not have is INVALID FIELD IN CDB", () => {
    const { submit } = scsiController();

    expectCheck(submit(cdbs.modeSense6(0x1c, 255), { dataInLen: 255 }), SENSE.invalidFieldInCdb);
  });

  test("changeable values report nothing changeable", () => {
    const { submit } = scsiController();

    const r = submit(cdbs.modeSense6(0x08, 255, 1, true), { dataInLen: 255 });

    expectGood(r);
    expect(r.dataIn.subarray(6, 24).every((b) => b === 0)).toBe(true);
  });
});

describe("READ and WRITE", () => {
  test("WRITE(10) then READ(10) round-trips the data through the disk", () => {
    const { submit, disks } = scsiController();
    const data = pattern(4096, 7);

    const w = submit(cdbs.write10(16, 8), { dataOut: data });
    const r = submit(cdbs.read10(16, 8), { dataInLen: 4096 });

    expectGood(w);
    expectGood(r);
    expect(r.dataIn).toEqual(data);
    const onDisk = new Uint8Array(4096);
    disks[0]!.readAt(onDisk, 16 * 512);
    expect(onDisk).toEqual(data);
  });

  test("WRITE(6)/READ(6) and WRITE(16)/READ(16) round-trip", () => {
    const { submit } = scsiController();
    const a = pattern(1024, 1);
    const b = pattern(1536, 2);

    expectGood(submit(cdbs.write6(3, 2), { dataOut: a }));
    expectGood(submit(cdbs.write16(100, 3), { dataOut: b }));

    expect(submit(cdbs.read6(3, 2), { dataInLen: 1024 }).dataIn).toEqual(a);
    expect(submit(cdbs.read16(100, 3), { dataInLen: 1536 }).dataIn).toEqual(b);
  });

  test("block-size=4096 addresses 4 KiB blocks", () => {
    const { submit, disks } = scsiController([{ blockSize: 4096 }]);
    const data = pattern(4096, 3);

    expectGood(submit(cdbs.write10(2, 1), { dataOut: data }));

    const onDisk = new Uint8Array(4096);
    disks[0]!.readAt(onDisk, 8192);
    expect(onDisk).toEqual(data);
  });

  test("a read past the last block is LBA OUT OF RANGE and reads nothing", () => {
    const { submit } = scsiController([{ size: MiB }]);

    const r = submit(cdbs.read10(2047, 2), { dataInLen: 1024 });

    expectCheck(r, SENSE.lbaOutOfRange);
    expect(r.resid).toBe(1024);
  });

  test("a 16-byte LBA near 2^64 is LBA OUT OF RANGE", () => {
    const { submit } = scsiController();

    expectCheck(submit(cdbs.read16(2n ** 64n - 1n, 1), { dataInLen: 512 }), SENSE.lbaOutOfRange);
  });

  test("a write to a read-only disk is DATA PROTECT / WRITE PROTECTED and changes nothing", () => {
    const { submit, disks } = scsiController([{ readOnly: true }]);

    const r = submit(cdbs.write10(0, 1), { dataOut: pattern(512, 9) });

    expectCheck(r, SENSE.writeProtected);
    const onDisk = new Uint8Array(512);
    disks[0]!.readAt(onDisk, 0);
    expect(onDisk.every((b) => b === 0)).toBe(true);
  });

  test("a read-only disk still reads", () => {
    const { submit } = scsiController([{ readOnly: true }]);

    expectGood(submit(cdbs.read10(0, 1), { dataInLen: 512 }));
  });

  test("a transfer larger than the data-in buffer is answered OVERRUN without I/O", () => {
    const { submit } = scsiController();

    const r = submit(cdbs.read10(0, 8), { dataInLen: 512 });

    expect(r.response).toBe(VIRTIO_SCSI_S_OVERRUN);
  });

  test("a write with less data-out than its length is answered OVERRUN and writes nothing", () => {
    const { submit, disks } = scsiController();

    const r = submit(cdbs.write10(0, 4), { dataOut: pattern(512, 1) });

    expect(r.response).toBe(VIRTIO_SCSI_S_OVERRUN);
    const onDisk = new Uint8Array(512);
    disks[0]!.readAt(onDisk, 0);
    expect(onDisk.every((b) => b === 0)).toBe(true);
  });

  test("a transfer over the advertised maximum (VPD B0h) is INVALID FIELD IN CDB", () => {
    const { submit } = scsiController([{ size: 64 * MiB }]);

    expectCheck(submit(cdbs.read16(0, 0x10000), { dataInLen: 512 }), SENSE.invalidFieldInCdb);
  });

  test("a READ of 0 blocks transfers nothing and is GOOD", () => {
    const { submit } = scsiController();

    expectGood(submit(cdbs.read10(0, 0)));
  });
});

describe("SYNCHRONIZE CACHE, WRITE SAME and UNMAP", () => {
  test("SYNCHRONIZE CACHE(10) and (16) are GOOD", () => {
    const { submit } = scsiController();

    expectGood(submit(cdbs.syncCache10()));
    expectGood(submit(cdbs.syncCache16(0, 16)));
  });

  test("SYNCHRONIZE CACHE past the end is LBA OUT OF RANGE", () => {
    const { submit } = scsiController([{ size: MiB }]);

    expectCheck(submit(cdbs.syncCache10(2048, 1)), SENSE.lbaOutOfRange);
  });

  test("WRITE SAME(10) of a pattern repeats the block over the range", () => {
    const { submit, disks } = scsiController();
    const block = pattern(512, 5);

    expectGood(submit(cdbs.writeSame10(10, 3), { dataOut: block }));

    const onDisk = new Uint8Array(1536);
    disks[0]!.readAt(onDisk, 10 * 512);
    expect(onDisk).toEqual(new Uint8Array([...block, ...block, ...block]));
  });

  test("WRITE SAME(16) with UNMAP and NDOB zeroes the range", () => {
    const { submit, disks } = scsiController();
    disks[0]!.writeAt(pattern(2048, 1), 0);

    expectGood(submit(cdbs.writeSame16(1, 2, 0x09)));

    const onDisk = new Uint8Array(2048);
    disks[0]!.readAt(onDisk, 0);
    expect(onDisk.subarray(512, 1536).every((b) => b === 0)).toBe(true);
    expect(onDisk.subarray(0, 512)).toEqual(pattern(2048, 1).subarray(0, 512));
  });

  test("WRITE SAME of 0 blocks is INVALID FIELD IN CDB (WSNZ)", () => {
    const { submit } = scsiController();

    expectCheck(submit(cdbs.writeSame10(0, 0), { dataOut: new Uint8Array(512) }), SENSE.invalidFieldInCdb);
  });

  test("WRITE SAME over the advertised maximum is INVALID FIELD IN CDB", () => {
    const { submit } = scsiController([{ size: 2 ** 31 }]);

    expectCheck(submit(cdbs.writeSame16(0, (1 << 30) / 512 + 1, 0x01)), SENSE.invalidFieldInCdb);
  });

  test("WRITE SAME on a read-only disk is WRITE PROTECTED", () => {
    const { submit } = scsiController([{ readOnly: true }]);

    expectCheck(submit(cdbs.writeSame10(0, 1), { dataOut: new Uint8Array(512) }), SENSE.writeProtected);
  });

  test("UNMAP zeroes each described range", () => {
    const { submit, disks } = scsiController();
    disks[0]!.writeAt(pattern(8192, 4), 0);

    expectGood(
      submit(cdbs.unmap(40), {
        dataOut: unmapList([
          [2, 2],
          [10, 1],
        ]),
      }),
    );

    const onDisk = new Uint8Array(8192);
    disks[0]!.readAt(onDisk, 0);
    expect(onDisk.subarray(1024, 2048).every((b) => b === 0)).toBe(true);
    expect(onDisk.subarray(5120, 5632).every((b) => b === 0)).toBe(true);
    expect(onDisk.subarray(0, 1024)).toEqual(pattern(8192, 4).subarray(0, 1024));
  });

  test("UNMAP with one range past the end is LBA OUT OF RANGE and unmaps nothing", () => {
    const { submit, disks } = scsiController([{ size: MiB }]);
    disks[0]!.writeAt(pattern(512, 4), 0);

    const r = submit(cdbs.unmap(40), {
      dataOut: unmapList([
        [0, 1],
        [2047, 2],
      ]),
    });

    expectCheck(r, SENSE.lbaOutOfRange);
    const onDisk = new Uint8Array(512);
    disks[0]!.readAt(onDisk, 0);
    expect(onDisk).toEqual(pattern(512, 4));
  });

  test("UNMAP with more descriptors than VPD B0h allows is refused from the header alone", () => {
    const { submit } = scsiController();
    const ranges = Array.from({ length: MAX_UNMAP_DESCRIPTORS + 1 }, (): [number, number] => [0, 1]);
    const list = unmapList(ranges);

    expectCheck(submit(cdbs.unmap(list.length), { dataOut: list }), SENSE.invalidFieldInParameterList);
  });

  test("UNMAP with a parameter list length of 1 to 7 is PARAMETER LIST LENGTH ERROR", () => {
    const { submit } = scsiController();

    expectCheck(submit(cdbs.unmap(4), { dataOut: new Uint8Array(8) }), SENSE.parameterListLengthError);
  });

  test("UNMAP whose list length exceeds its data-out is PARAMETER LIST LENGTH ERROR", () => {
    const { submit } = scsiController();

    expectCheck(submit(cdbs.unmap(0xffff), { dataOut: unmapList([[0, 1]]) }), SENSE.parameterListLengthError);
  });

  test("UNMAP on a read-only disk is WRITE PROTECTED", () => {
    const { submit } = scsiController([{ readOnly: true }]);

    expectCheck(submit(cdbs.unmap(24), { dataOut: unmapList([[0, 1]]) }), SENSE.writeProtected);
  });
});

describe("addressing and framing", () => {
  test("an unknown operation code is CHECK CONDITION with INVALID COMMAND OPERATION CODE", () => {
    const { submit } = scsiController();

    expectCheck(submit(cdb(0xc5)), SENSE.invalidOpcode);
  });

  test("a target with no disk is answered BAD_TARGET", () => {
    const { submit } = scsiController([{}, {}]);

    expect(submit(cdbs.inquiry(36), { dataInLen: 36, target: 2 }).response).toBe(VIRTIO_SCSI_S_BAD_TARGET);
  });

  test("a LUN field whose first byte is not 1 is answered BAD_TARGET", () => {
    const { dev, drv } = scsiController();
    const req = new Uint8Array(51);
    req.set([2, 0, 0x40, 0], 0);
    req.set(cdbs.testUnitReady(), 19);
    const { addrs } = drv.addChain([{ data: req }, { len: 108, writable: true }]);

    dev.queueNotify(2);

    expect(drv.mem.readU8(addrs[1]! + 11)).toBe(VIRTIO_SCSI_S_BAD_TARGET);
  });

  test("INQUIRY to LUN 1 answers 'no logical unit' (peripheral qualifier 3, type 1Fh)", () => {
    const { submit } = scsiController();

    const r = submit(cdbs.inquiry(36), { dataInLen: 36, lun: 1 });

    expectGood(r);
    expect(r.dataIn[0]).toBe(0x7f);
  });

  test("a READ to LUN 1 is LOGICAL UNIT NOT SUPPORTED", () => {
    const { submit } = scsiController();

    expectCheck(submit(cdbs.read10(0, 1), { dataInLen: 512, lun: 1 }), SENSE.lunNotSupported);
  });

  test("sense is cut to a response buffer with less sense room than 18 bytes", () => {
    const { submit } = scsiController();

    const r = submit(cdb(0xc5), { respLen: 12 + 8 });

    expect([r.status, r.senseLen, r.sense[0], r.sense[2]]).toEqual([CHECK_CONDITION, 8, 0x70, 0x5]);
  });

  test("a request shorter than its header and CDB is answered FAILURE", () => {
    const { submit } = scsiController();

    expect(submit(cdbs.testUnitReady(), { reqLen: 30 }).response).toBe(VIRTIO_SCSI_S_FAILURE);
  });

  test("a chain with no room for the response header is used with length 0", () => {
    const { submit } = scsiController();

    expect(submit(cdbs.testUnitReady(), { respLen: 11 }).usedLen).toBe(0);
  });
});
