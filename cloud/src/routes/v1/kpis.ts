/**
 * `GET /v1/kpis`: the numbers management asks for, per site or company-wide (the caller's
 * scope), by day, week or month (UTC): work orders created and resolved, response time and
 * time to resolve (p50/p90), SLA compliance (response and resolution), residents'
 * satisfaction, alarms by system and the top devices, equipment availability (from
 * `device.offline`/`device.online` events), and energy per day from meter roll-ups (points
 * whose name contains `energy`, a cumulative kWh counter: max − min within the period).
 *
 * Computed on request from the tables over the range asked (≤ 400 days). That is fine for
 * a company's hundreds of sites at a dashboard's refresh rate; docs/scaling.md says when
 * to pre-aggregate.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import fp from 'fastify-plugin';
import { Type } from 'typebox';
import { requirePermission, requireSite, siteFilter } from '../../access/policy.js';
import { authenticated, principalOf } from '../../plugins/auth.js';
import { CloudError } from '../../plugins/errors.js';
import { Id, bearer, errorResponses } from './schemas.js';

const DAY = 86_400_000;
const MAX_RANGE = 400 * DAY;
const Num = Type.Union([Type.Number(), Type.Null()]);
const Figures = Type.Object(
  {
    created: Type.Integer(),
    resolved: Type.Integer(),
    responseP50Ms: Num,
    responseP90Ms: Num,
    resolveP50Ms: Num,
    resolveP90Ms: Num,
    slaResponseCompliance: Num,
    slaResolveCompliance: Num,
    ratings: Type.Integer(),
    satisfaction: Num,
    alarms: Type.Integer(),
    energyKwh: Num,
  },
  { additionalProperties: false },
);
const KpiReply = Type.Object(
  {
    site: Type.Union([Type.String(), Type.Null()]),
    from: Type.Integer(),
    to: Type.Integer(),
    bucket: Type.String(),
    totals: Figures,
    periods: Type.Array(Type.Object({ period: Type.String(), ...Figures.properties }, { additionalProperties: false })),
    alarmsBySystem: Type.Array(Type.Object({ system: Type.String(), count: Type.Integer() }, { additionalProperties: false })),
    topDevices: Type.Array(Type.Object({ device: Type.String(), count: Type.Integer() }, { additionalProperties: false })),
    availability: Type.Array(Type.Object({ device: Type.String(), availability: Type.Number(), offlineMs: Type.Integer() }, { additionalProperties: false })),
  },
  { additionalProperties: false },
);

export function percentile(sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) return null;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

export function periodOf(ts: number, bucket: 'day' | 'week' | 'month'): string {
  const d = new Date(ts);
  if (bucket === 'month') return d.toISOString().slice(0, 7);
  if (bucket === 'week') {
    const monday = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate() - ((d.getUTCDay() + 6) % 7)));
    return `week of ${monday.toISOString().slice(0, 10)}`;
  }
  return d.toISOString().slice(0, 10);
}

interface Acc {
  created: number;
  resolved: number;
  response: number[];
  resolve: number[];
  respMet: number;
  respMissed: number;
  resMet: number;
  resMissed: number;
  ratings: number[];
  alarms: number;
  energy: number | null;
}
const acc = (): Acc => ({ created: 0, resolved: 0, response: [], resolve: [], respMet: 0, respMissed: 0, resMet: 0, resMissed: 0, ratings: [], alarms: 0, energy: null });

/** What one work order adds to the figures it counts in (responded/resolved in time or not, rating). */
function countWorkOrder(
  a: Acc,
  w: { created_at: number; responded_at: number | null; response_due_at: number; resolved_at: number | null; due_at: number; status: string; rating: number | null },
  now: number,
): void {
  a.created++;
  if (w.responded_at !== null) {
    a.response.push(w.responded_at - w.created_at);
    if (w.responded_at <= w.response_due_at) a.respMet++;
    else a.respMissed++;
  } else if (now > w.response_due_at && w.status !== 'cancelled') a.respMissed++;
  if (w.resolved_at !== null) {
    a.resolved++;
    a.resolve.push(w.resolved_at - w.created_at);
    if (w.resolved_at <= w.due_at) a.resMet++;
    else a.resMissed++;
  } else if (now > w.due_at && w.status !== 'cancelled') a.resMissed++;
  if (w.rating !== null) a.ratings.push(w.rating);
}
const ratio = (a: number, b: number): number | null => (a + b === 0 ? null : Math.round((a / (a + b)) * 1000) / 1000);
function figures(a: Acc) {
  const s = (x: number[]) => [...x].sort((p, q) => p - q);
  const resp = s(a.response);
  const res = s(a.resolve);
  return {
    created: a.created,
    resolved: a.resolved,
    responseP50Ms: percentile(resp, 50),
    responseP90Ms: percentile(resp, 90),
    resolveP50Ms: percentile(res, 50),
    resolveP90Ms: percentile(res, 90),
    slaResponseCompliance: ratio(a.respMet, a.respMissed),
    slaResolveCompliance: ratio(a.resMet, a.resMissed),
    ratings: a.ratings.length,
    satisfaction: a.ratings.length === 0 ? null : Math.round((a.ratings.reduce((x, y) => x + y, 0) / a.ratings.length) * 100) / 100,
    alarms: a.alarms,
    energyKwh: a.energy === null ? null : Math.round(a.energy * 1000) / 1000,
  };
}

const kpiRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/kpis',
    {
      onRequest: authenticated(app),
      schema: {
        tags: ['kpis'],
        summary: 'KPIs per site or company (your scope) by day, week or month: response and resolution times, SLA compliance, satisfaction, alarms, availability, energy',
        security: bearer,
        querystring: Type.Object(
          {
            site: Type.Optional(Id),
            from: Type.Optional(Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER })),
            to: Type.Optional(Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER })),
            bucket: Type.Optional(Type.Enum(['day', 'week', 'month'])),
          },
          { additionalProperties: false },
        ),
        response: { 200: KpiReply, ...errorResponses(400, 401, 403, 404) },
      },
    },
    async (request) => {
      const principal = requirePermission(principalOf(request), 'read');
      const now = Date.now();
      const to = request.query.to ?? now;
      const from = request.query.from ?? to - 30 * DAY;
      const bucket = request.query.bucket ?? 'day';
      if (to <= from || to - from > MAX_RANGE) throw new CloudError('CS_ERR_VALIDATION', 'querystring/from and to must make a range of at most 400 days');
      const site = request.query.site;
      if (site !== undefined) requireSite(principal, site);
      const sites = site !== undefined ? [site] : siteFilter(principal);
      const db = app.stewardDb.db;
      const inSites = <Q extends { where: (...a: never[]) => Q }>(q: Q, col: string): Q => (sites === undefined ? q : (q.where as unknown as (c: string, op: string, v: unknown) => Q)(col, 'in', sites.length === 0 ? [''] : [...sites]));

      const wos = await inSites(db.selectFrom('work_orders').select(['created_at', 'responded_at', 'response_due_at', 'resolved_at', 'due_at', 'status', 'rating']).where('created_at', '>=', from).where('created_at', '<', to), 'site_id').limit(200_000).execute();
      const alarms = await inSites(db.selectFrom('events').select(['ts', 'device_id', 'body_json']).where('type', '=', 'alarm.raised').where('ts', '>=', from).where('ts', '<', to), 'site_id').limit(200_000).execute();
      const onoff = await inSites(db.selectFrom('events').select(['ts', 'device_id', 'type']).where('type', 'in', ['device.offline', 'device.online']).where('ts', '<', to).where('ts', '>=', from - 30 * DAY), 'site_id').orderBy('ts').limit(200_000).execute();
      const energy = await inSites(db.selectFrom('rollups').select(['point_id', 'minute', 'min', 'max', 'site_id']).where('point_id', 'like', '%energy%').where('minute', '>=', from).where('minute', '<', to), 'site_id').limit(500_000).execute();

      const total = acc();
      const periods = new Map<string, Acc>();
      const at = (ts: number): Acc => {
        const k = periodOf(ts, bucket);
        let a = periods.get(k);
        if (a === undefined) periods.set(k, (a = acc()));
        return a;
      };
      for (const w of wos) {
        for (const a of [total, at(w.created_at)]) countWorkOrder(a, w, now);
      }
      const bySystem = new Map<string, number>();
      const byDevice = new Map<string, number>();
      for (const e of alarms) {
        total.alarms++;
        at(e.ts).alarms++;
        let system = 'unknown';
        try {
          const b = JSON.parse(e.body_json) as Record<string, unknown>;
          if (typeof b['system'] === 'string') system = b['system'];
        } catch {
          /* a body that is not an object: system unknown */
        }
        bySystem.set(system, (bySystem.get(system) ?? 0) + 1);
        if (e.device_id !== null) byDevice.set(e.device_id, (byDevice.get(e.device_id) ?? 0) + 1);
      }
      // Energy: per point and period, max − min of the counter.
      const span = new Map<string, { min: number; max: number; period: string }>();
      for (const r of energy) {
        const period = periodOf(r.minute, bucket);
        const k = `${r.site_id}/${r.point_id}/${period}`;
        const s = span.get(k);
        if (s === undefined) span.set(k, { min: r.min, max: r.max, period });
        else {
          s.min = Math.min(s.min, r.min);
          s.max = Math.max(s.max, r.max);
        }
      }
      for (const s of span.values()) {
        const used = Math.max(0, s.max - s.min);
        const p = periods.get(s.period) ?? (periods.set(s.period, acc()), periods.get(s.period)!);
        p.energy = (p.energy ?? 0) + used;
        total.energy = (total.energy ?? 0) + used;
      }
      // Availability: offline time within [from, to) per device.
      const offlineSince = new Map<string, number>();
      const offline = new Map<string, number>();
      for (const e of onoff) {
        if (e.device_id === null) continue;
        if (e.type === 'device.offline') {
          if (!offlineSince.has(e.device_id)) offlineSince.set(e.device_id, e.ts);
        } else {
          const since = offlineSince.get(e.device_id);
          if (since !== undefined) {
            offline.set(e.device_id, (offline.get(e.device_id) ?? 0) + Math.max(0, Math.min(e.ts, to) - Math.max(since, from)));
            offlineSince.delete(e.device_id);
          } else if (!offline.has(e.device_id)) offline.set(e.device_id, 0);
        }
      }
      const end = Math.min(to, now);
      for (const [d, since] of offlineSince) offline.set(d, (offline.get(d) ?? 0) + Math.max(0, end - Math.max(since, from)));
      const rangeMs = Math.max(1, end - from);
      return {
        site: site ?? null,
        from,
        to,
        bucket,
        totals: figures(total),
        periods: [...periods.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([period, a]) => ({ period, ...figures(a) })),
        alarmsBySystem: [...bySystem.entries()].map(([system, count]) => ({ system, count })).sort((a, b) => b.count - a.count),
        topDevices: [...byDevice.entries()].map(([device, count]) => ({ device, count })).sort((a, b) => b.count - a.count || (a.device < b.device ? -1 : 1)).slice(0, 10),
        availability: [...offline.entries()].map(([device, ms]) => ({ device, offlineMs: ms, availability: Math.round((1 - Math.min(ms, rangeMs) / rangeMs) * 10000) / 10000 })).sort((a, b) => a.availability - b.availability),
      };
    },
  );  await bySiteRoutes(app, {});
};

/**
 * `GET /v1/kpis/sites`: the same figures, totals only, for every site of the caller's scope
 * in one request (the company dashboard compares sites with it), plus each site's mean
 * device availability. Same queries as `/v1/kpis`, grouped by site.
 */
const SiteFigures = Type.Object({ site: Type.String(), ...Figures.properties, availability: Num }, { additionalProperties: false });
const bySiteRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/kpis/sites',
    {
      onRequest: authenticated(app),
      schema: {
        tags: ['kpis'],
        summary: 'KPI totals per site (your scope) over a range (default the last 30 days): response and resolution times, SLA compliance, satisfaction, alarms, energy, mean availability',
        security: bearer,
        querystring: Type.Object(
          {
            from: Type.Optional(Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER })),
            to: Type.Optional(Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER })),
          },
          { additionalProperties: false },
        ),
        response: { 200: Type.Array(SiteFigures), ...errorResponses(400, 401, 403) },
      },
    },
    async (request) => {
      const principal = requirePermission(principalOf(request), 'read');
      const now = Date.now();
      const to = request.query.to ?? now;
      const from = request.query.from ?? to - 30 * DAY;
      if (to <= from || to - from > MAX_RANGE) throw new CloudError('CS_ERR_VALIDATION', 'querystring/from and to must make a range of at most 400 days');
      const sites = siteFilter(principal);
      if (sites !== undefined && sites.length === 0) return [];
      const db = app.stewardDb.db;
      const inSites = <Q extends { where: (...a: never[]) => Q }>(q: Q, col: string): Q => (sites === undefined ? q : (q.where as unknown as (c: string, op: string, v: unknown) => Q)(col, 'in', [...sites]));
      const siteRows = await inSites(db.selectFrom('sites').select('id'), 'id').orderBy('id').execute();
      const wos = await inSites(db.selectFrom('work_orders').select(['site_id', 'created_at', 'responded_at', 'response_due_at', 'resolved_at', 'due_at', 'status', 'rating']).where('created_at', '>=', from).where('created_at', '<', to), 'site_id').limit(200_000).execute();
      const alarms = await inSites(db.selectFrom('events').select(['site_id']).where('type', '=', 'alarm.raised').where('ts', '>=', from).where('ts', '<', to), 'site_id').limit(200_000).execute();
      const onoff = await inSites(db.selectFrom('events').select(['site_id', 'ts', 'device_id', 'type']).where('type', 'in', ['device.offline', 'device.online']).where('ts', '<', to).where('ts', '>=', from - 30 * DAY), 'site_id').orderBy('ts').limit(200_000).execute();
      const energy = await inSites(db.selectFrom('rollups').select(['point_id', 'min', 'max', 'site_id']).where('point_id', 'like', '%energy%').where('minute', '>=', from).where('minute', '<', to), 'site_id').limit(500_000).execute();

      const bySite = new Map<string, Acc>(siteRows.map((r) => [r.id, acc()]));
      const of = (site: string): Acc => bySite.get(site) ?? (bySite.set(site, acc()), bySite.get(site)!);
      for (const w of wos) countWorkOrder(of(w.site_id), w, now);
      for (const e of alarms) of(e.site_id).alarms++;
      const span = new Map<string, { site: string; min: number; max: number }>();
      for (const r of energy) {
        const k = `${r.site_id}/${r.point_id}`;
        const s = span.get(k);
        if (s === undefined) span.set(k, { site: r.site_id, min: r.min, max: r.max });
        else {
          s.min = Math.min(s.min, r.min);
          s.max = Math.max(s.max, r.max);
        }
      }
      for (const s of span.values()) {
        const a = of(s.site);
        a.energy = (a.energy ?? 0) + Math.max(0, s.max - s.min);
      }
      // Availability: offline time within [from, to) per device, averaged over the site's devices that reported.
      const end = Math.min(to, now);
      const rangeMs = Math.max(1, end - from);
      const offlineSince = new Map<string, number>();
      const offline = new Map<string, { site: string; ms: number }>();
      const add = (site: string, device: string, ms: number) => {
        const k = `${site}\u0000${device}`;
        const o = offline.get(k);
        if (o === undefined) offline.set(k, { site, ms });
        else o.ms += ms;
      };
      for (const e of onoff) {
        if (e.device_id === null) continue;
        const k = `${e.site_id}\u0000${e.device_id}`;
        if (e.type === 'device.offline') {
          if (!offlineSince.has(k)) offlineSince.set(k, e.ts);
        } else {
          const since = offlineSince.get(k);
          offlineSince.delete(k);
          add(e.site_id, e.device_id, since === undefined ? 0 : Math.max(0, Math.min(e.ts, to) - Math.max(since, from)));
        }
      }
      for (const [k, since] of offlineSince) {
        const cut = k.indexOf('\u0000');
        add(k.slice(0, cut), k.slice(cut + 1), Math.max(0, end - Math.max(since, from)));
      }
      const avail = new Map<string, number[]>();
      for (const o of offline.values()) {
        const list = avail.get(o.site) ?? (avail.set(o.site, []), avail.get(o.site)!);
        list.push(1 - Math.min(o.ms, rangeMs) / rangeMs);
      }
      return [...bySite.entries()]
        .sort(([a], [b]) => (a < b ? -1 : 1))
        .map(([site, a]) => {
          const list = avail.get(site);
          return { site, ...figures(a), availability: list === undefined ? null : Math.round((list.reduce((x, y) => x + y, 0) / list.length) * 10000) / 10000 };
        });
    },
  );
};

export default fp(kpiRoutes, { name: 'steward-routes-kpis', fastify: '5.x', encapsulate: true, dependencies: ['steward-db', 'steward-auth'] });
