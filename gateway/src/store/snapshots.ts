/**
 * Camera pictures taken with events, as files: `<dir>/<device>/<eventId>.<ext>`. The
 * newest `keepPerDevice` of each device are kept; older ones are deleted as new ones
 * arrive. Events carry the file's name, the API serves it; pictures are never synced to
 * the cloud (too big for the outbox; the event says where the picture is).
 */
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const EXT: Readonly<Record<string, string>> = { 'image/jpeg': 'jpg', 'image/png': 'png' };
const SAFE = /^[a-z0-9][a-z0-9-]*$/;
const FILE = /^[0-9a-f-]{36}\.(jpg|png|bin)$/;

export class SnapshotFolder {
  constructor(
    private readonly dir: string,
    private readonly keepPerDevice = 500,
  ) {}

  /** Writes a picture; returns what the event records of it. */
  save(device: string, eventId: string, picture: { contentType: string; data: Buffer }): { file: string; contentType: string; bytes: number } {
    if (!SAFE.test(device)) throw new Error(`not a device id: ${device}`);
    const folder = path.join(this.dir, device);
    mkdirSync(folder, { recursive: true });
    const file = `${eventId}.${EXT[picture.contentType] ?? 'bin'}`;
    writeFileSync(path.join(folder, file), picture.data);
    // UUIDv7 names sort by time: drop the oldest past the cap.
    const all = readdirSync(folder).filter((f) => FILE.test(f)).sort();
    for (const old of all.slice(0, Math.max(0, all.length - this.keepPerDevice))) rmSync(path.join(folder, old), { force: true });
    return { file, contentType: picture.contentType, bytes: picture.data.length };
  }

  /** The path of a stored picture, or undefined for a name that is not one (no path tricks). */
  path(device: string, file: string): string | undefined {
    if (!SAFE.test(device) || !FILE.test(file)) return undefined;
    return path.join(this.dir, device, file);
  }
}
