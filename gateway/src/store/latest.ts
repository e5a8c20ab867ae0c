/**
 * The latest value of every point, held in memory by point id (issue 3: the poll path's
 * store cost). The `latest` table was upserted row by row on every flush — ~1.2 µs of each
 * stored sample — for values the API reads far less often than they change. Now a flush
 * only updates these arrays; the store writes the points changed since the last write to
 * the table in bulk, every few seconds, with each telemetry snapshot and at close, and
 * records how far the log is reflected ('latest.through'). After a crash the values of
 * the log rows past that mark are replayed from the log (store.ts), so nothing a flush
 * committed is lost from the latest values either.
 */
import type { Quality, Value } from '../core/model.js';

/** A value as kept here and in the table: non-finite numbers are null (JSON has no NaN). */
export function latestValue(value: Value | null): Value | null {
  return typeof value === 'number' && !Number.isFinite(value) ? null : value;
}

export class LatestValues {
  private readonly value: (Value | null)[] = [];
  /** ms epoch of the reading; undefined: the point has no value yet. */
  private readonly ts: (number | undefined)[] = [];
  private readonly quality: Quality[] = [];
  private readonly name: string[] = [];
  private readonly device: string[] = [];
  /** Changed (value or quality) since the last telemetry snapshot: the table's `dirty`. */
  private readonly changed: boolean[] = [];
  /** Set since the last write to the table, and the same as a list. */
  private readonly unsavedFlag: boolean[] = [];
  private unsavedIds: number[] = [];
  /** Ids with a value, sorted by point name; undefined when a point got its first value since. */
  private order: number[] | undefined;
  /** The same by device (built as asked; dropped with `order`). */
  private byDevice = new Map<string, number[]>();

  /** Names a point id (every id the store hands out is named before it gets a value). */
  named(id: number, name: string, device: string): void {
    this.name[id] = name;
    this.device[id] = device;
  }

  /** Loads a row of the table as it is (not unsaved). */
  load(id: number, value: Value | null, quality: Quality, ts: number, dirty: boolean): void {
    if (this.ts[id] === undefined) this.order = undefined;
    this.value[id] = value;
    this.quality[id] = quality;
    this.ts[id] = ts;
    this.changed[id] = dirty;
  }

  /**
   * A reading of point `id`: kept only when not older than the value held (latest values
   * move forward in time), marked changed for the next snapshot when its value or quality
   * differs, and unsaved. `value` as `latestValue` gives it.
   */
  set(id: number, value: Value | null, quality: Quality, ts: number): void {
    const prev = this.ts[id];
    if (prev === undefined) {
      this.order = undefined;
      this.changed[id] = true;
    } else if (ts < prev) return;
    else if (this.value[id] !== value || this.quality[id] !== quality) this.changed[id] = true;
    this.value[id] = value;
    this.quality[id] = quality;
    this.ts[id] = ts;
    if (this.unsavedFlag[id] !== true) {
      this.unsavedFlag[id] = true;
      this.unsavedIds.push(id);
    }
  }

  /** How many points changed since the last write to the table. */
  get unsavedCount(): number {
    return this.unsavedIds.length;
  }

  /** The rows to write to the table — point, value as JSON text, quality, ts, dirty — flat. */
  unsavedRows(): (number | string | null)[] {
    const rows: (number | string | null)[] = [];
    for (const id of this.unsavedIds) {
      const v = this.value[id]!;
      rows.push(id, v === null ? null : JSON.stringify(v), this.quality[id]!, this.ts[id]!, this.changed[id] === true ? 1 : 0);
    }
    return rows;
  }

  /** The rows of `unsavedRows` are committed. */
  saved(): void {
    for (const id of this.unsavedIds) this.unsavedFlag[id] = false;
    this.unsavedIds = [];
  }

  /** Points changed since the last snapshot, by name. */
  changedIds(): number[] {
    return this.sorted().filter((id) => this.changed[id] === true);
  }

  /** The snapshot of those points is committed. */
  snapshotted(ids: readonly number[]): void {
    for (const id of ids) this.changed[id] = false;
  }

  row(id: number): { point: string; device: string; value: Value | null; quality: Quality; ts: number } {
    return { point: this.name[id]!, device: this.device[id]!, value: this.value[id]!, quality: this.quality[id]!, ts: this.ts[id]! };
  }

  /** Every point with a value (of `device`), by name. */
  rows(device?: string): { point: string; device: string; value: Value | null; quality: Quality; ts: number }[] {
    let ids = this.sorted();
    if (device !== undefined) {
      let of = this.byDevice.get(device);
      if (of === undefined) {
        of = ids.filter((id) => this.device[id] === device);
        this.byDevice.set(device, of);
      }
      ids = of;
    }
    return ids.map((id) => this.row(id));
  }

  private sorted(): number[] {
    if (this.order === undefined) {
      this.byDevice = new Map();
      const ids: number[] = [];
      this.ts.forEach((ts, id) => {
        if (ts !== undefined) ids.push(id);
      });
      ids.sort((a, b) => (this.name[a]! < this.name[b]! ? -1 : this.name[a]! > this.name[b]! ? 1 : 0));
      this.order = ids;
    }
    return this.order;
  }
}
