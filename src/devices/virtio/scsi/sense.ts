// Sense data in fixed format (SPC-4 4.5.3, response code 70h "current error") and the conditions the emulated
// disk reports, each a sense key with its additional sense code and qualifier (SPC-4 table 47 and annex D).
import { DATA_PROTECT, ILLEGAL_REQUEST, MEDIUM_ERROR, NO_SENSE } from "./constants.ts";

export interface Sense {
  readonly key: number;
  readonly asc: number;
  readonly ascq: number;
}

/** Fixed-format sense data is 18 bytes: 8 of header and 10 "additional" (SPC-4 table 51). */
export const FIXED_SENSE_SIZE = 18;
const RESPONSE_CODE_CURRENT = 0x70;

const sense = (key: number, asc: number, ascq = 0): Sense => ({ key, asc, ascq });

export const SENSE = {
  noSense: sense(NO_SENSE, 0x00),
  invalidOpcode: sense(ILLEGAL_REQUEST, 0x20),
  lbaOutOfRange: sense(ILLEGAL_REQUEST, 0x21),
  invalidFieldInCdb: sense(ILLEGAL_REQUEST, 0x24),
  lunNotSupported: sense(ILLEGAL_REQUEST, 0x25),
  invalidFieldInParameterList: sense(ILLEGAL_REQUEST, 0x26),
  parameterListLengthError: sense(ILLEGAL_REQUEST, 0x1a),
  savingParametersNotSupported: sense(ILLEGAL_REQUEST, 0x39),
  writeProtected: sense(DATA_PROTECT, 0x27),
  unrecoveredReadError: sense(MEDIUM_ERROR, 0x11),
  writeError: sense(MEDIUM_ERROR, 0x0c),
} as const;

/** The 18 bytes of fixed-format sense data for `s`. */
export function fixedSense(s: Sense): Uint8Array {
  const b = new Uint8Array(FIXED_SENSE_SIZE);
  b[0] = RESPONSE_CODE_CURRENT;
  b[2] = s.key & 0x0f;
  // ADDITIONAL SENSE LENGTH: the bytes after byte 7.
  b[7] = FIXED_SENSE_SIZE - 8;
  b[12] = s.asc;
  b[13] = s.ascq;
  return b;
}
