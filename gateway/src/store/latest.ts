/**
 * The latest value of every point, held in memory by point id (issue 3: the poll path's
 * store cost). The `latest` table was upserted row by row on every flush — ~1.2 µs of each
 * stored sample — for values the API reads far less often than they change. Now a flush
 * only updates these arrays; the store writes the points changed since the last write to
 * the table in bulk, every few seconds, with each telemetry snapshot and at close, and
 * records how far the log is reflected ('latest.through'). After a crash the values of
 * the log rows past that mark are replayed from the log (store.ts), so nothing a flush
 * committed is lost from the latest values either.
 *
 * A periodic write is a *round*: the points changed so far are set apart and written a
 * bounded number per flush (30,000 rows at once would hold the poll thread ~40 ms); the
 * mark moves to where the log stood when the round began once the round's last rows are
 * committed. Points changed again meanwhile wait for the next round (or are written with
 * their newer value when the round reaches them). A table row newer than the mark is
 * harmless: replay keeps only what moves forward in time.
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
  /** Set since the last write of the point to the table (in the round under way or the list after it). */
  private readonly unsavedFlag: boolean[] = [];
  private unsavedIds: number[] = [];
  /** The round being written, and how far. */
  private round: number[] = [];
  private roundPos = 0;
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

  /** How many points changed since their last write to the table. */
  get unsavedCount(): number {
    return this.unsavedIds.length + this.round.length - this.roundPos;
  }

  /** The table rows of `ids` — point, value as JSON text, quality, ts, dirty — flat. */
  private rowsOf(ids: readonly number[], from: number, to: number, rows: (number | string | null)[] = []): (number | string | null)[] {
    for (let i = from; i < to; i++) {
      const id = ids[i]!;
      const v = this.value[id]!;
      rows.push(id, v === null ? null : JSON.stringify(v), this.quality[id]!, this.ts[id]!, this.changed[id] === true ? 1 : 0);
    }
    return rows;
  }

  /** Every unsaved row (the round's rest and what changed after it began): for a write of them all. */
  unsavedRows(): (number | string | null)[] {
    return this.rowsOf(this.unsavedIds, 0, this.unsavedIds.length, this.rowsOf(this.round, this.roundPos, this.round.length));
  }

  /** The rows of `unsavedRows` are committed: no round under way, nothing unsaved. */
  saved(): void {
    for (let i = this.roundPos; i < this.round.length; i++) this.unsavedFlag[this.round[i]!] = false;
    for (const id of this.unsavedIds) this.unsavedFlag[id] = false;
    this.unsavedIds = [];
    this.round = [];
    this.roundPos = 0;
  }

  /** Begins a round with the points changed so far. */
  startRound(): void {
    this.round = this.unsavedIds;
    this.roundPos = 0;
    this.unsavedIds = [];
  }

  /** Rows left in the round. */
  get roundLeft(): number {
    return this.round.length - this.roundPos;
  }

  /** The round's next `max` rows (flat, as `unsavedRows`), and how many. */
  roundRows(max: number): { rows: (number | string | null)[]; n: number } {
    const to = Math.min(this.round.length, this.roundPos + max);
    return { rows: this.rowsOf(this.round, this.roundPos, to), n: to - this.roundPos };
  }

  /** The next `n` rows of the round are committed. */
  roundWritten(n: number): void {
    const to = this.roundPos + n;
    for (let i = this.roundPos; i < to; i++) this.unsavedFlag[this.round[i]!] = false;
    this.roundPos = to;
    if (to >= this.round.length) {
      this.round = [];
      this.roundPos = 0;
    }
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
