// The boot_params.hdr.setup_data linked list (bootparam.h struct setup_data: u64 next, u32 type, u32 len, data).
// crosvm always passes a 256-byte SETUP_RNG_SEED so the guest's RNG is seeded before it has entropy
// (x86_64/src/lib.rs setup_data_rng_seed, write_setup_data).
import type { GuestMemory } from "../../vm_memory/guest_memory.ts";
import { LeBytes, alignUp } from "./bytes.ts";
import { SETUP_DATA_END, SETUP_DATA_START } from "./layout.ts";

/** setup_data types (arch/x86/include/uapi/asm/setup_data.h). */
export const SETUP_DTB = 2;
export const SETUP_RNG_SEED = 9;
const HEADER_SIZE = 16;
const RNG_SEED_SIZE = 256;

export interface SetupDataEntry {
  type: number;
  data: Uint8Array;
}

export class SetupDataError extends Error {
  override name = "SetupDataError";
}

/** A SETUP_RNG_SEED entry with fresh random bytes. */
export function rngSeedSetupData(): SetupDataEntry {
  return { type: SETUP_RNG_SEED, data: crypto.getRandomValues(new Uint8Array(RNG_SEED_SIZE)) };
}

/**
 * Writes the entries as a linked list starting at the first 8-byte boundary of SETUP_DATA_START, each node
 * 8-byte aligned, and returns the address of the first node (undefined for no entries).
 */
export function writeSetupData(mem: GuestMemory, entries: readonly SetupDataEntry[]): number | undefined {
  let addr = alignUp(SETUP_DATA_START, 8);
  const head = entries.length > 0 ? addr : undefined;
  entries.forEach((entry, i) => {
    const end = addr + HEADER_SIZE + entry.data.length;
    if (end >= SETUP_DATA_END) {
      throw new SetupDataError(
        `setup_data does not fit below 0x${SETUP_DATA_END.toString(16)} (entry type ${entry.type})`,
      );
    }
    const next = i + 1 < entries.length ? alignUp(end, 8) : 0;
    const header = LeBytes.zeroed(HEADER_SIZE)
      .setU64(0, next)
      .setU32(8, entry.type)
      .setU32(12, entry.data.length);
    mem.write(addr, header.bytes);
    mem.write(addr + HEADER_SIZE, entry.data);
    addr = next;
  });
  return head;
}
