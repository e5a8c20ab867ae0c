/**
 * Local time of day in a site's time zone (IANA name, e.g. Asia/Shanghai), for daily
 * patterns. The zone's UTC offset is looked up through Intl once per hour of time.
 */

const formatters = new Map<string, Intl.DateTimeFormat>();
const offsets = new Map<string, { hour: number; offsetMs: number }>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (f === undefined) {
    f = new Intl.DateTimeFormat('en-US', { timeZone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric' });
    formatters.set(timeZone, f);
  }
  return f;
}

/** The zone's offset from UTC at `ms` (ms to add to UTC). */
export function utcOffsetMs(ms: number, timeZone: string): number {
  const hour = Math.floor(ms / 3_600_000);
  const cached = offsets.get(timeZone);
  if (cached !== undefined && cached.hour === hour) return cached.offsetMs;
  const parts: Record<string, number> = {};
  for (const p of formatter(timeZone).formatToParts(new Date(hour * 3_600_000))) if (p.type !== 'literal') parts[p.type] = Number(p.value);
  const local = Date.UTC(parts.year!, parts.month! - 1, parts.day!, parts.hour!, parts.minute!, parts.second!);
  const offsetMs = local - hour * 3_600_000;
  offsets.set(timeZone, { hour, offsetMs });
  return offsetMs;
}

/** Hours since local midnight, 0 ≤ h < 24, fractional. */
export function localHour(ms: number, timeZone: string): number {
  const local = ms + utcOffsetMs(ms, timeZone);
  return (((local % 86_400_000) + 86_400_000) % 86_400_000) / 3_600_000;
}
