// The kvm tier's waits are sized for a host whose /dev/kvm runs the tiny guests at full speed. Inside the nested
// rig (scripts/kvm_in_rig.ts) everything runs under TCG, several times slower, and the rig sets
// CROSVM_TEST_TIME_SCALE to say by how much; every wait of the tier goes through `scaled`.
const factor = Number(process.env.CROSVM_TEST_TIME_SCALE ?? "1");
export const TIME_SCALE = Number.isFinite(factor) && factor >= 1 ? factor : 1;

/** `ms` on this machine. */
export function scaled(ms: number): number {
  return ms * TIME_SCALE;
}
