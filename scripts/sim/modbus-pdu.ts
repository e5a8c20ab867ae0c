/**
 * The server side of the Modbus PDU (Modbus Application Protocol V1.1b3): a request PDU
 * (function code + data) in, a response PDU out, answered synchronously from a register
 * bank. Framing (MBAP or RTU) is the server's business, not this file's.
 *
 * Checks follow the state diagrams of §6: function code supported, else exception 1;
 * quantity within the limits of the function, else exception 3; addresses inside the
 * device's map, else exception 2.
 */
import type { BitTable, RegisterBank, RegisterTable } from './register-bank.js';

/** Exception codes (§7). */
export const ILLEGAL_FUNCTION = 0x01;
export const ILLEGAL_DATA_ADDRESS = 0x02;
export const ILLEGAL_DATA_VALUE = 0x03;
export const SERVER_DEVICE_FAILURE = 0x04;
export const GATEWAY_TARGET_FAILED = 0x0b;

/** §7: the function code with its high bit set, then the exception code. */
export function exceptionPdu(functionCode: number, code: number): Buffer {
  const out = Buffer.allocUnsafe(2);
  out[0] = (functionCode | 0x80) & 0xff;
  out[1] = code & 0xff;
  return out;
}

/** §6.1 / §6.2: FC 1 read coils, FC 2 read discrete inputs — 1…2000 bits, packed LSB first. */
function readBits(bank: RegisterBank, table: BitTable, pdu: Buffer): Buffer {
  const fc = pdu[0]!;
  if (pdu.length !== 5) return exceptionPdu(fc, ILLEGAL_DATA_VALUE);
  const start = pdu.readUInt16BE(1);
  const qty = pdu.readUInt16BE(3);
  if (qty < 1 || qty > 2000) return exceptionPdu(fc, ILLEGAL_DATA_VALUE);
  if (!bank.has(table, start, qty)) return exceptionPdu(fc, ILLEGAL_DATA_ADDRESS);
  const bytes = (qty + 7) >> 3;
  const out = Buffer.alloc(2 + bytes);
  out[0] = fc;
  out[1] = bytes;
  const bits = bank[table];
  for (let i = 0; i < qty; i++) if (bits[start + i] === 1) out[2 + (i >> 3)]! |= 1 << (i & 7);
  return out;
}

/** §6.3 / §6.4: FC 3 read holding registers, FC 4 read input registers — 1…125 registers. */
function readRegisters(bank: RegisterBank, table: RegisterTable, pdu: Buffer): Buffer {
  const fc = pdu[0]!;
  if (pdu.length !== 5) return exceptionPdu(fc, ILLEGAL_DATA_VALUE);
  const start = pdu.readUInt16BE(1);
  const qty = pdu.readUInt16BE(3);
  if (qty < 1 || qty > 125) return exceptionPdu(fc, ILLEGAL_DATA_VALUE);
  if (!bank.has(table, start, qty)) return exceptionPdu(fc, ILLEGAL_DATA_ADDRESS);
  const out = Buffer.allocUnsafe(2 + qty * 2);
  out[0] = fc;
  out[1] = qty * 2;
  const regs = bank[table];
  for (let i = 0; i < qty; i++) out.writeUInt16BE(regs[start + i]!, 2 + i * 2);
  return out;
}

/** §6.5: FC 5 write single coil — 0xFF00 on, 0x0000 off; the answer echoes the request. */
function writeCoil(bank: RegisterBank, pdu: Buffer): Buffer {
  if (pdu.length !== 5) return exceptionPdu(5, ILLEGAL_DATA_VALUE);
  const address = pdu.readUInt16BE(1);
  const value = pdu.readUInt16BE(3);
  if (value !== 0xff00 && value !== 0x0000) return exceptionPdu(5, ILLEGAL_DATA_VALUE);
  if (!bank.has('coil', address, 1)) return exceptionPdu(5, ILLEGAL_DATA_ADDRESS);
  bank.coil[address] = value === 0xff00 ? 1 : 0;
  bank.notifyWrite('coil', address, 1);
  return Buffer.from(pdu);
}

/** §6.6: FC 6 write single register; the answer echoes the request. */
function writeRegister(bank: RegisterBank, pdu: Buffer): Buffer {
  if (pdu.length !== 5) return exceptionPdu(6, ILLEGAL_DATA_VALUE);
  const address = pdu.readUInt16BE(1);
  if (!bank.has('holding', address, 1)) return exceptionPdu(6, ILLEGAL_DATA_ADDRESS);
  bank.holding[address] = pdu.readUInt16BE(3);
  bank.notifyWrite('holding', address, 1);
  return Buffer.from(pdu);
}

/** The answer to FC 15/16: function code, start, quantity. */
function writeMultipleAnswer(fc: number, start: number, qty: number): Buffer {
  const out = Buffer.allocUnsafe(5);
  out[0] = fc;
  out.writeUInt16BE(start, 1);
  out.writeUInt16BE(qty, 3);
  return out;
}

/** §6.11: FC 15 write multiple coils — 1…1968 (0x7B0) coils, byte count = ⌈qty/8⌉. */
function writeCoils(bank: RegisterBank, pdu: Buffer): Buffer {
  if (pdu.length < 6) return exceptionPdu(15, ILLEGAL_DATA_VALUE);
  const start = pdu.readUInt16BE(1);
  const qty = pdu.readUInt16BE(3);
  const bytes = pdu[5]!;
  if (qty < 1 || qty > 0x7b0 || bytes !== (qty + 7) >> 3 || pdu.length !== 6 + bytes) return exceptionPdu(15, ILLEGAL_DATA_VALUE);
  if (!bank.has('coil', start, qty)) return exceptionPdu(15, ILLEGAL_DATA_ADDRESS);
  for (let i = 0; i < qty; i++) bank.coil[start + i] = (pdu[6 + (i >> 3)]! >> (i & 7)) & 1;
  bank.notifyWrite('coil', start, qty);
  return writeMultipleAnswer(15, start, qty);
}

/** §6.12: FC 16 write multiple registers — 1…123 (0x7B) registers, byte count = 2 × qty. */
function writeRegisters(bank: RegisterBank, pdu: Buffer): Buffer {
  if (pdu.length < 6) return exceptionPdu(16, ILLEGAL_DATA_VALUE);
  const start = pdu.readUInt16BE(1);
  const qty = pdu.readUInt16BE(3);
  const bytes = pdu[5]!;
  if (qty < 1 || qty > 0x7b || bytes !== qty * 2 || pdu.length !== 6 + bytes) return exceptionPdu(16, ILLEGAL_DATA_VALUE);
  if (!bank.has('holding', start, qty)) return exceptionPdu(16, ILLEGAL_DATA_ADDRESS);
  for (let i = 0; i < qty; i++) bank.holding[start + i] = pdu.readUInt16BE(6 + i * 2);
  bank.notifyWrite('holding', start, qty);
  return writeMultipleAnswer(16, start, qty);
}

/**
 * Answers one request PDU from `bank`. `pdu` is at least one byte (the function code).
 * Never throws for any input: a malformed request gets an exception response.
 */
export function answerPdu(bank: RegisterBank, pdu: Buffer): Buffer {
  const fc = pdu[0] ?? 0;
  switch (fc) {
    case 1:
      return readBits(bank, 'coil', pdu);
    case 2:
      return readBits(bank, 'discrete', pdu);
    case 3:
      return readRegisters(bank, 'holding', pdu);
    case 4:
      return readRegisters(bank, 'input', pdu);
    case 5:
      return writeCoil(bank, pdu);
    case 6:
      return writeRegister(bank, pdu);
    case 15:
      return writeCoils(bank, pdu);
    case 16:
      return writeRegisters(bank, pdu);
    default:
      return exceptionPdu(fc, ILLEGAL_FUNCTION);
  }
}
