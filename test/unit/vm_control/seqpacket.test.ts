import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { join } from "node:path";
import * as libc from "../../../ffi/libc.ts";
import {
  acceptSeqpacket,
  connectSeqpacket,
  newSeqpacketSocket,
  readableNow,
  recvPacket,
  sendPacket,
} from "../../../src/vm_control/seqpacket.ts";
import { tempDir } from "./fake_vm.ts";

describe("struct sockaddr_un (include/uapi/linux/un.h)", () => {
  test("is 110 bytes: a u16 family and a 108-byte sun_path", () => {
    expect([libc.SOCKADDR_UN_SIZE, libc.UNIX_PATH_MAX]).toEqual([110, 108]);
  });

  test("holds AF_UNIX little-endian at 0 and the NUL-terminated path at 2", () => {
    const addr = libc.sockaddrUn("/run/x.sock");

    expect([...addr.subarray(0, 2)]).toEqual([libc.AF_UNIX, 0]);
    expect(new TextDecoder().decode(addr.subarray(2, 13))).toBe("/run/x.sock");
    expect(addr[13]).toBe(0);
  });

  test("refuses a path that leaves no room for the NUL in sun_path", () => {
    expect(() => libc.sockaddrUn(`/${"a".repeat(107)}`)).toThrow();
  });
});

describe("SOCK_SEQPACKET over bun:ffi", () => {
  let dir: { dir: string; cleanup: () => void };
  let listener: number;
  let path: string;

  beforeEach(() => {
    dir = tempDir();
    path = join(dir.dir, "s.sock");
    listener = newSeqpacketSocket("test listener");
    libc.bind(listener, libc.sockaddrUn(path), path);
    libc.listen(listener, 4);
  });

  afterEach(() => {
    libc.close(listener);
    dir.cleanup();
  });

  test("accept returns null while no connection is pending", () => {
    expect(acceptSeqpacket(listener, "test")).toBeNull();
  });

  test("poll reports the listener readable once a client connects", () => {
    const client = connectSeqpacket(path);

    expect(readableNow([listener])[0]! & libc.POLLIN).toBe(libc.POLLIN);
    libc.close(client);
  });

  test("each recv returns exactly one packet", () => {
    const client = connectSeqpacket(path);
    const server = acceptSeqpacket(listener, "test")!;
    sendPacket(client, new Uint8Array([1, 2, 3]), "client");
    sendPacket(client, new Uint8Array([4, 5]), "client");

    const first = recvPacket(server, 100, "server");
    const second = recvPacket(server, 100, "server");

    expect(first.kind === "packet" && [...first.bytes]).toEqual([1, 2, 3]);
    expect(second.kind === "packet" && [...second.bytes]).toEqual([4, 5]);
    libc.close(client);
    libc.close(server);
  });

  test("a packet longer than the limit is reported with its real size (MSG_TRUNC)", () => {
    const client = connectSeqpacket(path);
    const server = acceptSeqpacket(listener, "test")!;
    sendPacket(client, new Uint8Array(500), "client");

    expect(recvPacket(server, 100, "server")).toEqual({ kind: "oversized", size: 500 });
    libc.close(client);
    libc.close(server);
  });

  test("recv reports a closed peer", () => {
    const client = connectSeqpacket(path);
    const server = acceptSeqpacket(listener, "test")!;
    libc.close(client);

    expect(recvPacket(server, 100, "server").kind).toBe("closed");
    libc.close(server);
  });

  test("sending to a closed peer reports peer-gone instead of raising SIGPIPE", () => {
    const client = connectSeqpacket(path);
    const server = acceptSeqpacket(listener, "test")!;
    libc.close(client);

    expect(sendPacket(server, new Uint8Array(1), "server")).toBe("peer-gone");
    libc.close(server);
  });

  test("connecting where nothing listens fails with ECONNREFUSED", () => {
    libc.close(listener);
    listener = newSeqpacketSocket("replacement");

    expect(() => connectSeqpacket(path)).toThrow("ECONNREFUSED");
  });
});
