// How a configuration access names its function and register, for both access mechanisms, shared by the PCI
// root (main thread) and the vCPU-side wrappers that answer accesses to absent functions (config_io_presence.ts,
// ecam_presence.ts).
//   CONFIG_ADDRESS (port 0xCF8, PCI Local Bus 3.0 section 3.2.2.3.2): enable bit 31, bus 23:16, device 15:11,
//   function 10:8, register 7:2.
//   ECAM offset (PCIe Base 4.0 section 7.2.2): bus << 20 | device << 15 | function << 12 | byte offset 11:0.

/** CONFIG_ADDRESS bit 31: configuration cycles are enabled; without it the data port reads all-ones. */
export const CONFIG_ADDRESS_ENABLE = 0x8000_0000;
/** The CONFIG_ADDRESS bits a write keeps: enable, bus, device, function, register (bits 30:24 and 1:0 read 0). */
export const CONFIG_ADDRESS_MASK = 0x80ff_fffc;

export const configAddressBus = (a: number) => (a >>> 16) & 0xff;
export const configAddressDevice = (a: number) => (a >>> 11) & 0x1f;
export const configAddressFunction = (a: number) => (a >>> 8) & 7;
export const configAddressRegister = (a: number) => (a >>> 2) & 0x3f;

export const ecamBus = (offset: number) => (offset >>> 20) & 0xff;
export const ecamDevice = (offset: number) => (offset >>> 15) & 0x1f;
export const ecamFunction = (offset: number) => (offset >>> 12) & 7;
export const ecamRegister = (offset: number) => (offset & 0xfff) >>> 2;

/** Reads `data.length` bytes at byte `shift` of a little-endian dword; bytes past the dword read 0xFF. */
export function extractBytes(dword: number, shift: number, data: Uint8Array): void {
  for (let i = 0; i < data.length; i++) data[i] = shift + i < 4 ? (dword >>> (8 * (shift + i))) & 0xff : 0xff;
}

/** The little-endian dword in the first four bytes of `data` (a CONFIG_ADDRESS write), without allocating. */
export const dwordOf = (data: Uint8Array) =>
  (data[0]! | (data[1]! << 8) | (data[2]! << 16) | (data[3]! << 24)) >>> 0;
