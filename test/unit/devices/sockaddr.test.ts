import { describe, expect, test } from "bun:test";
import { AF_UNIX, SOCKADDR_UN_SIZE, sockaddrUn } from "../../../ffi/libc.ts";

// struct sockaddr_un (include/uapi/linux/un.h): u16 sun_family, then char sun_path[108]. The datagram back-end
// tests bind and connect real sockets with it; these check the encoding itself.
describe("sockaddr_un encoding", () => {
  test("the family is at offset 0 and the NUL-terminated path at offset 2 of 110 bytes", () => {
    const addr = sockaddrUn("/tmp/s");

    expect(addr.length).toBe(SOCKADDR_UN_SIZE);
    expect(SOCKADDR_UN_SIZE).toBe(110);
    expect(addr[0]! | (addr[1]! << 8)).toBe(AF_UNIX);
    expect(new TextDecoder().decode(addr.subarray(2, 8))).toBe("/tmp/s");
    expect(addr[8]).toBe(0);
  });

  test("a path that leaves no room for the NUL is refused", () => {
    expect(() => sockaddrUn("x".repeat(108))).toThrow("expected 1 to 107 bytes");
  });
});
