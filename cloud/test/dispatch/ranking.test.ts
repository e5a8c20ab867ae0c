/** Dispatch choices on a small roster with known answers (issue 5). */
import t from 'tap';
import { LOAD_KM, distanceKm, rankTechnicians, type Candidate } from '../../src/dispatch/rank.js';

// Shenzhen: the site at Futian; Nanshan is ~10 km west, Luohu ~6 km east.
const SITE = { site: 'sz-garden-01', lat: 22.5431, lon: 114.0579 };
const NANSHAN = { lat: 22.5329, lon: 113.9305 };
const LUOHU = { lat: 22.5484, lon: 114.1316 };

const roster: Candidate[] = [
  { name: 'wang', skills: ['elevator'], onShift: true, ...NANSHAN, load: 0 },
  { name: 'li', skills: ['elevator', 'electrical'], onShift: true, ...LUOHU, load: 0 },
  { name: 'zhao', skills: ['plumbing'], onShift: true, site: 'sz-garden-01', load: 0 },
  { name: 'chen', skills: ['elevator'], onShift: false, site: 'sz-garden-01', load: 0 },
  { name: 'sun', skills: ['elevator'], onShift: true, site: 'sz-garden-01', load: 3 },
];

t.test('distance: haversine in km', async (t) => {
  t.ok(Math.abs(distanceKm(SITE.lat, SITE.lon, NANSHAN.lat, NANSHAN.lon) - 13.1) < 0.3);
  t.ok(Math.abs(distanceKm(SITE.lat, SITE.lon, LUOHU.lat, LUOHU.lon) - 7.6) < 0.3);
});

t.test('the nearest on-shift technician with the skill wins; load counts as distance', async (t) => {
  const r = rankTechnicians({ ...SITE, category: 'elevator' }, roster);
  // li: 7.6 km, load 0 → 7.6; wang: 13.1; sun: 0 km + 3 × 5 = 15; chen is off shift; zhao lacks the skill.
  t.equal(r.chosen, 'li');
  t.same(r.candidates.map((c) => c.name), ['li', 'wang', 'sun', 'chen', 'zhao']);
  t.match(r.reason, /^li: skill elevator, on shift, 7\.\d km away, 0 open work order\(s\); score 7\.\d/);
  t.match(r.candidates.find((c) => c.name === 'zhao')?.why, 'lacks skill elevator');
  t.equal(LOAD_KM, 5);
});

t.test('checked in at the site and lightly loaded beats travelling', async (t) => {
  const r = rankTechnicians({ ...SITE, category: 'elevator' }, roster.map((c) => (c.name === 'sun' ? { ...c, load: 1 } : c)));
  t.equal(r.chosen, 'sun', '0 km + 5 < 7.6 km');
});

t.test('skill filters first: plumbing goes to the only plumber', async (t) => {
  t.equal(rankTechnicians({ ...SITE, category: 'plumbing' }, roster).chosen, 'zhao');
  t.equal(rankTechnicians({ ...SITE, category: 'general' }, roster).chosen, 'zhao', 'general work: anyone, the closest unloaded');
});

t.test('off shift only when nobody with the skill is on shift, and the reason says so', async (t) => {
  const r = rankTechnicians({ ...SITE, category: 'elevator' }, roster.map((c) => ({ ...c, onShift: c.name === 'chen' ? false : c.name === 'zhao' })));
  t.equal(r.chosen, 'chen');
  t.match(r.reason, /nobody with the skill is on shift/);
});

t.test('those who declined or let the offer expire are skipped; nobody left → no choice', async (t) => {
  t.equal(rankTechnicians({ ...SITE, category: 'elevator' }, roster, new Set(['li'])).chosen, 'wang');
  const none = rankTechnicians({ ...SITE, category: 'fire' }, roster);
  t.equal(none.chosen, null);
  t.equal(none.reason, 'no technician with skill fire is available');
});

t.test('an unknown position counts 50 km', async (t) => {
  const r = rankTechnicians({ site: 'x', category: 'hvac' }, [
    { name: 'a', skills: ['hvac'], onShift: true, load: 0 },
    { name: 'b', skills: ['hvac'], onShift: true, lat: 22.6, lon: 114.0, load: 0 },
  ]);
  t.equal(r.chosen, 'a', 'both unknown distance for a site without a position: tie broken by name');
  t.match(r.candidates[0]?.why, /position unknown/);
});
