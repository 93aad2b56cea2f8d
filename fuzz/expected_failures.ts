// How a failed request's error may begin, for the devices whose requests can fail: guest mistakes and disk
// refusals, never a bug in our code (device_log.ts reports any other cause). Shared by each device's own target and
// the PCI transport target, which sends the same devices chains of its own.
export const BLOCK_EXPECTED_FAILURES: readonly (string | RegExp)[] = [
  "virtio-blk request has no place for a status",
  "descriptor chain too short",
  "disk image ",
  "guest memory range",
];

export const SCSI_EXPECTED_FAILURES: readonly (string | RegExp)[] = [
  "virtio-scsi request has no place for a response",
  "descriptor chain too short",
  "guest memory range",
];

export const BALLOON_EXPECTED_FAILURES: readonly (string | RegExp)[] = [
  /^\d+ bytes of page frames in one chain/,
];
