/**
 * Ranking technicians for a work order (issue 5 "Dispatch to the nearest suitable
 * technician"). Pure, so its choices can be tested on a roster with known answers.
 *
 * 1. **Skill**: the technician must have the work order's trade (`general` work needs none).
 * 2. **On shift**: technicians on shift come first; someone off shift is chosen only when
 *    nobody skilled is on shift (and the explanation says so).
 * 3. **Travel and load**: among those, the lowest score wins, where score = distance in km
 *    + {@link LOAD_KM} per open work order already assigned. A technician checked in at the
 *    work order's site is 0 km away; one whose position is unknown counts
 *    {@link UNKNOWN_DISTANCE_KM}. Ties go to the lower workload, then the name.
 * Technicians who declined or let an offer for this work order expire are left out.
 */

/** One open work order weighs as much as this many km of travel. */
export const LOAD_KM = 5;
/** Distance assumed when a technician's or a site's position is unknown. */
export const UNKNOWN_DISTANCE_KM = 50;

export interface Candidate {
  name: string;
  skills: readonly string[];
  onShift: boolean;
  /** Checked in at this site. */
  site?: string;
  lat?: number;
  lon?: number;
  /** Open work orders assigned (assigned, in progress, on hold). */
  load: number;
  /** The sites the technician serves (their login's sites and regions); absent: the whole company. */
  serves?: readonly string[];
}

export interface Target {
  site: string;
  category: string;
  lat?: number;
  lon?: number;
}

export interface Ranked {
  name: string;
  eligible: boolean;
  onShift: boolean;
  distanceKm: number | null;
  load: number;
  score: number | null;
  why: string;
}

export interface Ranking {
  chosen: string | null;
  reason: string;
  candidates: Ranked[];
}

/** Great-circle distance in km (haversine, mean Earth radius 6371 km). */
export function distanceKm(lat1: number, lon1: number, lat2: number, lon2: number): number {
  const rad = (d: number): number => (d * Math.PI) / 180;
  const dLat = rad(lat2 - lat1);
  const dLon = rad(lon2 - lon1);
  const a = Math.sin(dLat / 2) ** 2 + Math.cos(rad(lat1)) * Math.cos(rad(lat2)) * Math.sin(dLon / 2) ** 2;
  return 2 * 6371 * Math.asin(Math.min(1, Math.sqrt(a)));
}

function distanceOf(c: Candidate, t: Target): number | null {
  if (c.site !== undefined && c.site === t.site) return 0;
  if (c.lat === undefined || c.lon === undefined || t.lat === undefined || t.lon === undefined) return null;
  return distanceKm(c.lat, c.lon, t.lat, t.lon);
}

const round = (x: number): number => Math.round(x * 10) / 10;

export function rankTechnicians(target: Target, roster: readonly Candidate[], exclude: ReadonlySet<string> = new Set()): Ranking {
  const ranked: Ranked[] = roster.map((c) => {
    const d = distanceOf(c, target);
    const base = { name: c.name, onShift: c.onShift, distanceKm: d === null ? null : round(d), load: c.load };
    if (exclude.has(c.name)) return { ...base, eligible: false, score: null, why: 'declined or did not accept this work order in time' };
    if (c.serves !== undefined && !c.serves.includes(target.site)) return { ...base, eligible: false, score: null, why: `does not serve site ${target.site}` };
    if (target.category !== 'general' && !c.skills.includes(target.category)) return { ...base, eligible: false, score: null, why: `lacks skill ${target.category}` };
    const score = round((d ?? UNKNOWN_DISTANCE_KM) + LOAD_KM * c.load);
    return { ...base, eligible: true, score, why: `${c.onShift ? 'on shift' : 'off shift'}, ${d === null ? `position unknown (counted ${UNKNOWN_DISTANCE_KM} km)` : `${round(d)} km away`}, ${c.load} open work order(s)` };
  });
  const eligible = ranked.filter((r) => r.eligible);
  const pool = eligible.some((r) => r.onShift) ? eligible.filter((r) => r.onShift) : eligible;
  pool.sort((a, b) => (a.score ?? 0) - (b.score ?? 0) || a.load - b.load || (a.name < b.name ? -1 : 1));
  const best = pool[0];
  // Order the explanation: the pool in rank order, then the other eligible ones, then the rest.
  const order = [...pool, ...eligible.filter((r) => !pool.includes(r)), ...ranked.filter((r) => !r.eligible)];
  if (best === undefined) return { chosen: null, reason: `no technician with skill ${target.category} is available`, candidates: order };
  const offShiftNote = best.onShift ? '' : ' (nobody with the skill is on shift)';
  return {
    chosen: best.name,
    reason: `${best.name}: skill ${target.category}, ${best.why}; score ${best.score} = km + ${LOAD_KM} km per open work order, the lowest of ${pool.length}${offShiftNote}`,
    candidates: order,
  };
}
