/**
 * Modbus exception responses (Modbus Application Protocol V1.1b3 §7): the device
 * understood the request and refused it. The function code comes back with its high bit
 * set and one byte of exception code.
 */
import { GatewayError } from '../../core/errors.js';

/** Exception codes and their names as §7 gives them. */
export const EXCEPTION_NAMES: Readonly<Record<number, string>> = Object.freeze({
  0x01: 'illegal function',
  0x02: 'illegal data address',
  0x03: 'illegal data value',
  0x04: 'server device failure',
  0x05: 'acknowledge',
  0x06: 'server device busy',
  0x08: 'memory parity error',
  0x0a: 'gateway path unavailable',
  0x0b: 'gateway target device failed to respond',
});

/** What to check, per code, for the message (the profile against the manual, mostly). */
const HINTS: Readonly<Record<number, string>> = {
  0x01: 'the device does not support this function code',
  0x02: 'the registers asked for do not all exist on the device: check the addresses (0-based) in the profile and modbus.maxGap',
  0x03: 'the device refused the quantity or value: check modbus.maxRegistersPerRead and the value written',
  0x04: 'the device reports an internal failure',
  0x06: 'the device is busy: the request will be retried',
  0x0a: 'the Modbus gateway has no path to this unit id',
  0x0b: 'the unit behind the Modbus gateway did not answer: check its unit id and wiring',
};

export function exceptionName(code: number): string {
  return EXCEPTION_NAMES[code] ?? 'unknown exception';
}

/** The GW_ERR_MODBUS_EXCEPTION for `code`; the message names the code, its §7 name and a hint. */
export function exceptionError(code: number, request: string): GatewayError {
  const hint = HINTS[code];
  return new GatewayError(
    'GW_ERR_MODBUS_EXCEPTION',
    `${request}: Modbus exception ${code} (${exceptionName(code)})${hint === undefined ? '' : `: ${hint}`}`,
    { details: { exceptionCode: code, exception: exceptionName(code) } },
  );
}
