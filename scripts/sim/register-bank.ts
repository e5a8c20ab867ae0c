/**
 * The data of one simulated Modbus unit: the four tables of the Modbus data model
 * (Modbus Application Protocol V1.1b3 §4.3) — holding registers, input registers, coils,
 * discrete inputs — each sized to the device's register map. Models write into it; the
 * server answers from it; writes from clients land in it and are announced to listeners
 * (the model), which is how a start command or a new setpoint reaches the simulation.
 */

export type Table = 'holding' | 'input' | 'coil' | 'discrete';
export type RegisterTable = 'holding' | 'input';
export type BitTable = 'coil' | 'discrete';

/** Addresses per table: a table of size n holds addresses 0…n−1; others answer "illegal data address". */
export type BankSizes = Readonly<Record<Table, number>>;

/** A client wrote `count` entries of `table` from `start`. */
export type WriteListener = (table: 'holding' | 'coil', start: number, count: number) => void;

const MAX_ADDRESSES = 65536;

export class RegisterBank {
  readonly holding: Uint16Array;
  readonly input: Uint16Array;
  /** 0 or 1 per coil. */
  readonly coil: Uint8Array;
  /** 0 or 1 per discrete input. */
  readonly discrete: Uint8Array;
  private readonly listeners: WriteListener[] = [];

  constructor(sizes: Partial<BankSizes>) {
    const size = (t: Table) => Math.max(0, Math.min(MAX_ADDRESSES, Math.floor(sizes[t] ?? 0)));
    this.holding = new Uint16Array(size('holding'));
    this.input = new Uint16Array(size('input'));
    this.coil = new Uint8Array(size('coil'));
    this.discrete = new Uint8Array(size('discrete'));
  }

  size(table: Table): number {
    return this[table].length;
  }

  /** True when [start, start + count) lies inside the table. */
  has(table: Table, start: number, count: number): boolean {
    return start >= 0 && count >= 0 && start + count <= this[table].length;
  }

  /** Sets registers from the model's side (no write notification). Out-of-map addresses are ignored. */
  setRegisters(table: RegisterTable, start: number, words: ArrayLike<number>): void {
    const t = this[table];
    for (let i = 0; i < words.length && start + i < t.length; i++) t[start + i] = words[i]! & 0xffff;
  }

  getRegisters(table: RegisterTable, start: number, count: number): number[] {
    return Array.from(this[table].subarray(start, start + count));
  }

  /** Sets a coil or discrete input from the model's side. */
  setBit(table: BitTable, address: number, on: boolean): void {
    if (address >= 0 && address < this[table].length) this[table][address] = on ? 1 : 0;
  }

  getBit(table: BitTable, address: number): boolean {
    return this[table][address] === 1;
  }

  onWrite(listener: WriteListener): void {
    this.listeners.push(listener);
  }

  /** Called by the server after a client's write landed in the bank. */
  notifyWrite(table: 'holding' | 'coil', start: number, count: number): void {
    for (const listener of this.listeners) listener(table, start, count);
  }
}
