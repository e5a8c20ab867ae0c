/**
 * The company dashboard: every community (site) on a map-like grid (by coordinates where the
 * cloud has them, by region otherwise) and on a sortable list, each with its gateway's
 * health, last sync, open alarms and open work orders; company KPIs and sites compared as
 * charts; a site's own KPIs, open alarms, work orders and alarm events one click away.
 * Reads only the cloud's /v1 API with the person's token.
 */
import type { ComponentChildren } from 'preact';
import { useEffect, useMemo, useState } from 'preact/hooks';
import { api, onAuth, signedIn, signIn, signOut, type Alarm, type CloudEvent, type GatewayStatus, type Kpis, type Site, type SiteKpis, type WorkOrder } from './api.js';
import { BarChart, LineChart, RankChart } from './charts.js';
import { en, type Dictionary, type Key } from './en.js';
import { dayLabels, dense, figures, isOpen, online, perDay, siteHealth, type Health, type SiteHealth } from './kpis.js';
import { byRegion, layoutGrid } from './map.js';
import { zhCN } from './zh-CN.js';

type Lang = 'zh-CN' | 'en';
type T = (k: Key, vars?: Record<string, string | number>) => string;
const dicts: Record<Lang, Dictionary> = { 'zh-CN': zhCN, en };
const DAY = 86400_000;

function translator(lang: Lang): T {
  return (k, vars) => dicts[lang][k].replace(/\{(\w+)\}/g, (m, v: string) => (vars?.[v] === undefined ? m : String(vars[v])));
}
/** A word of the API (status, severity) through the dictionary, the word itself when unknown. */
function word(t: T, prefix: 'wo' | 'sev' | 'event', w: string): string {
  const k = `${prefix}.${w}` as Key;
  return k in en ? t(k) : w;
}

function since(t: T, ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  const d = s < 60 ? t('s', { n: s }) : s < 3600 ? t('min', { n: Math.floor(s / 60) }) : s < 86400 ? t('h', { n: Math.floor(s / 3600) }) : t('d', { n: Math.floor(s / 86400) });
  return t('ago', { t: d });
}
function duration(t: T, ms: number): string {
  if (ms < 3600_000) return t('min', { n: Math.round(ms / 60_000) });
  if (ms < 48 * 3600_000) return t('h', { n: Math.round(ms / 360_000) / 10 });
  return t('d', { n: Math.round(ms / 8640_000) / 10 });
}
const pct = (x: number | null | undefined) => (x == null ? '—' : `${Math.round(x * 100)} %`);
const time = (ts: number, lang: Lang) => new Date(ts).toLocaleString(lang, { month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', hour12: false });

interface Data {
  readonly sites: Site[];
  readonly gateways: GatewayStatus[];
  /** Open work orders (open, assigned, in progress, on hold), the latest 500 of each. */
  readonly workOrders: WorkOrder[];
  /** Active alarms. */
  readonly alarms: Alarm[];
  /** alarm.raised events of the last 24 h. */
  readonly raised24h: CloudEvent[];
  /** null when this cloud has no KPI route. */
  readonly kpis: Kpis | null;
  readonly siteKpis: SiteKpis[] | null;
}

function Login(props: { t: T; lang: Lang; setLang: (l: Lang) => void }) {
  const { t } = props;
  const [name, setName] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string | undefined>();
  return (
    <main class="login" id="main">
      <form
        class="card"
        onSubmit={(e) => {
          e.preventDefault();
          signIn(name, password).catch(() => setError(t('login.failed')));
        }}
      >
        <h1>{t('app.title')}</h1>
        <label for="name">{t('login.name')}</label>
        <input id="name" autocomplete="username" required value={name} onInput={(e) => setName(e.currentTarget.value)} />
        <label for="password">{t('login.password')}</label>
        <input id="password" type="password" autocomplete="current-password" required value={password} onInput={(e) => setPassword(e.currentTarget.value)} />
        {error === undefined ? null : (
          <p class="error" role="alert">
            {error}
          </p>
        )}
        <button class="btn primary" type="submit">
          {t('login.submit')}
        </button>
        <button class="btn" type="button" aria-label={t('lang.switchLabel')} onClick={() => props.setLang(props.lang === 'en' ? 'zh-CN' : 'en')}>
          {t('lang.switch')}
        </button>
      </form>
    </main>
  );
}

function Kpi(props: { label: string; value: string; tone?: 'bad' | 'ok' | undefined }) {
  return (
    <li class={`kpi ${props.tone ?? ''}`}>
      <span class="n">{props.value}</span>
      <span>{props.label}</span>
    </li>
  );
}

const HEALTH_KEY: Record<Health, Key> = { ok: 'health.ok', warn: 'health.warn', alarm: 'health.alarm', offline: 'health.offline' };

function gatewayText(t: T, h: SiteHealth, now: number): string {
  const state = h.gateway === 'online' ? t('site.online') : h.gateway === 'never' ? t('site.never') : h.gateway === 'none' ? t('site.noGateway') : t('site.offline');
  return h.lastSync === null ? state : `${state} · ${t('site.lastSeen', { t: since(t, now - h.lastSync) })}`;
}

function SiteTile(props: { t: T; site: Site; h: SiteHealth; now: number; style?: Record<string, string> }) {
  const { t, site, h } = props;
  return (
    <li style={props.style}>
      <a class={`tile ${h.health}`} href={`#/site/${encodeURIComponent(site.id)}`} data-site={site.id} data-health={h.health} title={`${site.name} — ${t(HEALTH_KEY[h.health])}`}>
        <strong class="name">{site.name}</strong>
        <span class="state">{gatewayText(t, h, props.now)}</span>
        <span class="counts">
          <span class={h.openAlarms > 0 ? 'c alarms on' : 'c alarms'} data-count="alarms">
            <b>{h.openAlarms}</b> {t('tile.alarms')}
          </span>
          <span class={h.overdue > 0 ? 'c wo on' : 'c wo'} data-count="work-orders">
            <b>{h.open}</b> {t('tile.wo')}
          </span>
        </span>
      </a>
    </li>
  );
}

function Legend(props: { t: T }) {
  return (
    <p class="legend-row" aria-label={props.t('map.legend')}>
      {(['ok', 'warn', 'alarm', 'offline'] as const).map((h) => (
        <span class={`swatch ${h}`}>{props.t(HEALTH_KEY[h])}</span>
      ))}
    </p>
  );
}

function SitesMap(props: { t: T; sites: Site[]; health: Map<string, SiteHealth>; now: number }) {
  const { t, sites, health, now } = props;
  const grid = useMemo(() => layoutGrid(sites, 10), [sites]);
  const regions = byRegion(grid.unplaced);
  return (
    <>
      {grid.cells.length === 0 ? null : (
        <div class="map-wrap">
          <h3>{t('map.title')}</h3>
          <ul class="map" aria-label={t('map.title')} data-cols={grid.cols} data-rows={grid.rows} style={{ gridTemplateColumns: `repeat(${grid.cols}, minmax(9.5rem, 1fr))` }}>
            {grid.cells.map((c) => (
              <SiteTile t={t} site={c.item} h={health.get(c.item.id)!} now={now} style={{ gridColumn: String(c.col + 1), gridRow: String(c.row + 1) }} />
            ))}
          </ul>
        </div>
      )}
      {regions.length === 0 ? null : <h3>{grid.cells.length === 0 ? t('map.regions') : t('map.noPosition')}</h3>}
      {regions.map((g) => (
        <section class="region" aria-label={g.name ?? t('region.none')} data-region={g.region ?? ''}>
          <h4>{g.name ?? t('region.none')}</h4>
          <ul class="tiles">
            {g.sites.map((s) => (
              <SiteTile t={t} site={s} h={health.get(s.id)!} now={now} />
            ))}
          </ul>
        </section>
      ))}
    </>
  );
}

type SortKey = 'name' | 'region' | 'gateway' | 'lastSync' | 'openAlarms' | 'open' | 'overdue' | 'sla' | 'response';

function SitesList(props: { t: T; lang: Lang; sites: Site[]; health: Map<string, SiteHealth>; kpis: Map<string, SiteKpis>; now: number }) {
  const { t, sites, health, kpis, now } = props;
  const [sort, setSort] = useState<{ key: SortKey; desc: boolean }>({ key: 'openAlarms', desc: true });
  const rank: Record<Health, number> = { offline: 3, alarm: 2, warn: 1, ok: 0 };
  const value = (s: Site): string | number => {
    const h = health.get(s.id)!;
    const k = kpis.get(s.id);
    switch (sort.key) {
      case 'name':
        return s.name;
      case 'region':
        return s.regionName ?? '';
      case 'gateway':
        return rank[h.health];
      case 'lastSync':
        return h.lastSync ?? 0;
      case 'openAlarms':
        return h.openAlarms * 1000 + h.unacked;
      case 'open':
        return h.open;
      case 'overdue':
        return h.overdue;
      case 'sla':
        return k?.slaResolveCompliance ?? -1;
      case 'response':
        return k?.responseP50Ms ?? -1;
    }
  };
  const rows = [...sites].sort((a, b) => {
    const x = value(a);
    const y = value(b);
    const c = typeof x === 'number' && typeof y === 'number' ? x - y : String(x).localeCompare(String(y), props.lang);
    return (sort.desc ? -c : c) || a.name.localeCompare(b.name, props.lang);
  });
  const Th = (p: { k: SortKey; label: Key }) => (
    <th scope="col" aria-sort={sort.key === p.k ? (sort.desc ? 'descending' : 'ascending') : 'none'}>
      <button type="button" class="sort" aria-label={t('sort.by', { col: t(p.label) })} onClick={() => setSort({ key: p.k, desc: sort.key === p.k ? !sort.desc : p.k !== 'name' && p.k !== 'region' })}>
        {t(p.label)}
        {sort.key === p.k ? (sort.desc ? ' ▼' : ' ▲') : ''}
      </button>
    </th>
  );
  return (
    <div class="table-wrap">
      <table class="site-list">
        <thead>
          <tr>
            <Th k="name" label="col.site" />
            <Th k="region" label="col.region" />
            <Th k="gateway" label="col.gateway" />
            <Th k="lastSync" label="col.lastSync" />
            <Th k="openAlarms" label="col.openAlarms" />
            <Th k="open" label="col.openWo" />
            <Th k="overdue" label="col.overdue" />
            <Th k="sla" label="col.sla" />
            <Th k="response" label="col.responseP50" />
          </tr>
        </thead>
        <tbody>
          {rows.map((s) => {
            const h = health.get(s.id)!;
            const k = kpis.get(s.id);
            return (
              <tr class={`h-${h.health}`} data-site-row={s.id}>
                <th scope="row">
                  <a href={`#/site/${encodeURIComponent(s.id)}`}>{s.name}</a>
                </th>
                <td>{s.regionName ?? ''}</td>
                <td>
                  <span class={`dot ${h.health}`} aria-hidden="true" />
                  {h.gateway === 'online' ? t('site.online') : h.gateway === 'never' ? t('site.never') : h.gateway === 'none' ? t('site.noGateway') : t('site.offline')}
                </td>
                <td>{h.lastSync === null ? '—' : since(t, now - h.lastSync)}</td>
                <td>
                  {h.openAlarms}
                  {h.unacked > 0 ? ` (${t('site.unackedN', { n: h.unacked })})` : ''}
                </td>
                <td>{h.open}</td>
                <td class={h.overdue > 0 ? 'bad' : ''}>{h.overdue}</td>
                <td>{pct(k?.slaResolveCompliance)}</td>
                <td>{k?.responseP50Ms == null ? '—' : duration(t, k.responseP50Ms)}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}

/** The KPI charts of one scope (a site or the company) from `GET /v1/kpis`. */
function KpiCharts(props: { t: T; kpis: Kpis; siteScope: boolean }) {
  const { t, kpis } = props;
  const days = dayLabels(kpis.from, kpis.to);
  const labels = days.map((d) => d.slice(5));
  const empty = t('chart.empty');
  const dur = (v: number) => duration(t, v);
  const p = kpis.periods;
  return (
    <div class="charts">
      <LineChart
        title={t('chart.response')}
        labels={labels}
        format={dur}
        emptyText={empty}
        series={[
          { name: t('series.p50'), color: 'var(--accent)', values: dense(p, days, (x) => x.responseP50Ms) },
          { name: t('series.p90'), color: 'var(--accent-2)', values: dense(p, days, (x) => x.responseP90Ms) },
        ]}
      />
      <LineChart
        title={t('chart.resolve')}
        labels={labels}
        format={dur}
        emptyText={empty}
        series={[
          { name: t('series.p50'), color: 'var(--accent)', values: dense(p, days, (x) => x.resolveP50Ms) },
          { name: t('series.p90'), color: 'var(--accent-2)', values: dense(p, days, (x) => x.resolveP90Ms) },
        ]}
      />
      <LineChart
        title={t('chart.sla')}
        labels={labels}
        format={(v) => pct(v)}
        yMax={1}
        emptyText={empty}
        series={[
          { name: t('series.response'), color: 'var(--accent)', values: dense(p, days, (x) => x.slaResponseCompliance) },
          { name: t('series.resolve'), color: 'var(--ok)', values: dense(p, days, (x) => x.slaResolveCompliance) },
        ]}
      />
      <BarChart title={t('kpi.energyPerDay')} labels={labels} values={dense(p, days, (x) => x.energyKwh)} format={(v) => `${Math.round(v)}`} color="var(--warn)" emptyText={empty} />
      <LineChart title={t('chart.satisfaction')} labels={labels} format={(v) => v.toFixed(1)} yMax={5} emptyText={empty} series={[{ name: t('kpi.rating'), color: 'var(--ok)', values: dense(p, days, (x) => x.satisfaction) }]} />
      <BarChart title={t('kpi.perDay')} labels={labels} values={dense(p, days, (x) => x.created)} format={(v) => String(Math.round(v))} emptyText={empty} />
      {props.siteScope ? (
        <>
          <RankChart title={t('chart.availability')} rows={kpis.availability.slice(0, 10).map((a) => ({ label: a.device, value: a.availability, tone: a.availability < 0.95 ? 'bad' : a.availability < 0.99 ? 'warn' : 'ok' }))} format={(v) => `${(v * 100).toFixed(1)} %`} max={1} emptyText={empty} />
          <RankChart title={t('chart.alarmsBySystem')} rows={kpis.alarmsBySystem.map((a) => ({ label: a.system, value: a.count }))} format={(v) => String(v)} emptyText={empty} />
        </>
      ) : null}
    </div>
  );
}

function Overview(props: { t: T; lang: Lang; data: Data }) {
  const { t, lang, data } = props;
  const now = Date.now();
  const [view, setView] = useState<'map' | 'list'>(() => (localStorage.getItem('steward.dashboard.view') === 'list' ? 'list' : 'map'));
  const choose = (v: 'map' | 'list') => {
    localStorage.setItem('steward.dashboard.view', v);
    setView(v);
  };
  const health = useMemo(
    () =>
      new Map(
        data.sites.map((s) => [
          s.id,
          siteHealth(
            data.gateways.filter((g) => g.site === s.id),
            data.alarms.filter((a) => a.site === s.id),
            data.workOrders.filter((w) => w.site === s.id),
            now,
          ),
        ]),
      ),
    [data],
  );
  const siteKpis = useMemo(() => new Map((data.siteKpis ?? []).map((k) => [k.site, k])), [data]);
  const names = new Map(data.sites.map((s) => [s.id, s.name]));
  const f = figures(data.workOrders, data.raised24h, now);
  const up = data.gateways.filter((g) => online(g, now)).length;
  const open = [...health.values()].reduce((s, h) => s + h.openAlarms, 0);
  const unacked = [...health.values()].reduce((s, h) => s + h.unacked, 0);
  const k = data.kpis;
  const availability = k === null || k.availability.length === 0 ? null : k.availability.reduce((s, a) => s + a.availability, 0) / k.availability.length;
  const href = (site: string) => `#/site/${encodeURIComponent(site)}`;
  const withData = (pick: (s: SiteKpis) => number | null) => (data.siteKpis ?? []).filter((s) => pick(s) !== null).map((s) => ({ site: s.site, v: pick(s)! }));
  return (
    <>
      <section aria-labelledby="h-company">
        <h2 id="h-company">{t('section.company')}</h2>
        <ul class="kpis">
          <Kpi label={t('kpi.sites')} value={String(data.sites.length)} />
          <Kpi label={t('kpi.online')} value={`${up} / ${data.gateways.length}`} tone={up < data.gateways.length ? 'bad' : 'ok'} />
          <Kpi label={t('kpi.openAlarms')} value={String(open)} tone={unacked > 0 ? 'bad' : undefined} />
          <Kpi label={t('kpi.unacked')} value={String(unacked)} tone={unacked > 0 ? 'bad' : 'ok'} />
          <Kpi label={t('kpi.openWo')} value={String(f.open)} />
          <Kpi label={t('kpi.overdue')} value={String(f.overdue)} tone={f.overdue > 0 ? 'bad' : 'ok'} />
          <Kpi label={t('kpi.responseP50')} value={k?.totals.responseP50Ms == null ? (f.responseMs === null ? '—' : duration(t, f.responseMs)) : duration(t, k.totals.responseP50Ms)} />
          <Kpi label={t('kpi.resolveP90')} value={k?.totals.resolveP90Ms == null ? '—' : duration(t, k.totals.resolveP90Ms)} />
          <Kpi label={t('kpi.sla')} value={pct(k?.totals.slaResolveCompliance ?? f.slaRate)} />
          <Kpi label={t('kpi.rating')} value={(k?.totals.satisfaction ?? f.rating) == null ? '—' : (k?.totals.satisfaction ?? f.rating)!.toFixed(1)} />
          <Kpi label={t('kpi.availability')} value={pct(availability)} />
          <Kpi label={t('kpi.energy')} value={k?.totals.energyKwh == null ? '—' : `${Math.round(k.totals.energyKwh).toLocaleString(lang)} kWh`} />
          <Kpi label={t('kpi.alarms24h')} value={String(f.alarms24h)} tone={f.alarms24h > 0 ? 'bad' : undefined} />
        </ul>
        {k === null ? (
          <div class="charts">
            <BarChart title={t('kpi.perDay')} labels={perDay(data.workOrders).map((d) => new Date(d.day).toLocaleDateString(lang))} values={perDay(data.workOrders).map((d) => d.n)} format={(v) => String(Math.round(v))} emptyText={t('chart.empty')} />
          </div>
        ) : (
          <KpiCharts t={t} kpis={k} siteScope={false} />
        )}
      </section>
      <section aria-labelledby="h-sites">
        <div class="section-head">
          <h2 id="h-sites">{t('section.sites')}</h2>
          <div class="toggle" role="group" aria-label={t('view.label')}>
            <button type="button" class="btn" aria-pressed={view === 'map'} onClick={() => choose('map')}>
              {t('view.map')}
            </button>
            <button type="button" class="btn" aria-pressed={view === 'list'} onClick={() => choose('list')}>
              {t('view.list')}
            </button>
          </div>
        </div>
        <Legend t={t} />
        {view === 'map' ? <SitesMap t={t} sites={data.sites} health={health} now={now} /> : <SitesList t={t} lang={lang} sites={data.sites} health={health} kpis={siteKpis} now={now} />}
      </section>
      {data.siteKpis === null || data.sites.length < 2 ? null : (
        <section aria-labelledby="h-compare">
          <h2 id="h-compare">{t('section.compare')}</h2>
          <div class="charts">
            <RankChart
              title={t('chart.sitesSla')}
              rows={withData((s) => s.slaResolveCompliance)
                .sort((a, b) => a.v - b.v)
                .slice(0, 12)
                .map((r) => ({ label: names.get(r.site) ?? r.site, value: r.v, href: href(r.site), tone: r.v < 0.8 ? 'bad' : r.v < 0.95 ? 'warn' : 'ok' }))}
              format={(v) => pct(v)}
              max={1}
              emptyText={t('chart.empty')}
            />
            <RankChart
              title={t('chart.sitesResponse')}
              rows={withData((s) => s.responseP50Ms)
                .sort((a, b) => b.v - a.v)
                .slice(0, 12)
                .map((r) => ({ label: names.get(r.site) ?? r.site, value: r.v, href: href(r.site) }))}
              format={(v) => duration(t, v)}
              emptyText={t('chart.empty')}
            />
            <RankChart
              title={t('chart.sitesAvailability')}
              rows={withData((s) => s.availability)
                .sort((a, b) => a.v - b.v)
                .slice(0, 12)
                .map((r) => ({ label: names.get(r.site) ?? r.site, value: r.v, href: href(r.site), tone: r.v < 0.95 ? 'bad' : r.v < 0.99 ? 'warn' : 'ok' }))}
              format={(v) => `${(v * 100).toFixed(1)} %`}
              max={1}
              emptyText={t('chart.empty')}
            />
            <RankChart
              title={t('chart.sitesAlarms')}
              rows={withData((s) => s.alarms)
                .filter((r) => r.v > 0)
                .sort((a, b) => b.v - a.v)
                .slice(0, 12)
                .map((r) => ({ label: names.get(r.site) ?? r.site, value: r.v, href: href(r.site) }))}
              format={(v) => String(v)}
              emptyText={t('chart.empty')}
            />
          </div>
        </section>
      )}
      <p class="muted">{t('kpi.note')}</p>
    </>
  );
}

interface SiteData {
  readonly kpis: Kpis | null;
  readonly alarms: Alarm[];
  readonly workOrders: WorkOrder[];
  readonly events: CloudEvent[];
}

function SitePage(props: { t: T; lang: Lang; data: Data; id: string }) {
  const { t, lang, data, id } = props;
  const [sd, setSd] = useState<SiteData | undefined>();
  const [error, setError] = useState<string | undefined>();
  const [woFilter, setWoFilter] = useState<'open' | 'all'>('open');
  useEffect(() => {
    setSd(undefined);
    const q = encodeURIComponent(id);
    const load = () =>
      Promise.all([
        api<Kpis>(`/kpis?site=${q}`).catch(() => null),
        api<Alarm[]>(`/alarms?site=${q}&limit=500`),
        api<WorkOrder[]>(`/work-orders?site=${q}&limit=500`),
        api<CloudEvent[]>(`/events?site=${q}&type=alarm.*&since=${Date.now() - 7 * DAY}&limit=1000`),
      ]).then(
        ([kpis, alarms, workOrders, events]) => {
          setSd({ kpis, alarms, workOrders, events });
          setError(undefined);
        },
        (e: unknown) => setError(e instanceof Error ? e.message : String(e)),
      );
    void load();
    const timer = setInterval(() => void load(), 15_000);
    return () => clearInterval(timer);
  }, [id]);
  const site = data.sites.find((s) => s.id === id);
  const now = Date.now();
  if (site === undefined) {
    return (
      <section>
        <a href="#/">← {t('site.back')}</a>
        <p class="error" role="alert">
          {t('site.notFound')}
        </p>
      </section>
    );
  }
  const gws = data.gateways.filter((g) => g.site === id);
  const h = siteHealth(gws, sd?.alarms ?? data.alarms.filter((a) => a.site === id), sd?.workOrders ?? data.workOrders.filter((w) => w.site === id), now);
  const k = sd?.kpis ?? null;
  const active = (sd?.alarms ?? []).filter((a) => a.state === 'active').sort((a, b) => Number(a.acked) - Number(b.acked) || b.raisedAt - a.raisedAt);
  const wos = (sd?.workOrders ?? []).filter((w) => woFilter === 'all' || isOpen(w));
  const events = [...(sd?.events ?? [])].reverse().slice(0, 50);
  /** What an empty table of the page says: still loading, or nothing there. */
  const emptyText = sd === undefined ? t('loading') : t('site.none');
  const availability = k === null || k.availability.length === 0 ? null : k.availability.reduce((s, a) => s + a.availability, 0) / k.availability.length;
  return (
    <section aria-labelledby="site-title" data-site-page={id}>
      <a href="#/">← {t('site.back')}</a>
      <div class="site-head">
        <h1 id="site-title">{site.name}</h1>
        <span class={`badge ${h.health}`}>{t(HEALTH_KEY[h.health])}</span>
      </div>
      <p class="muted">
        {site.regionName === undefined ? null : <span>{t('site.region', { r: site.regionName })} · </span>}
        {site.lat === undefined || site.lon === undefined ? null : <span>{t('site.position', { lat: site.lat.toFixed(4), lon: site.lon.toFixed(4) })} · </span>}
        <span>
          {t('site.gateways')}:{' '}
          {gws.length === 0
            ? t('site.noGateway')
            : gws.map((g) => `${g.id} (${online(g, now) ? t('site.online') : g.lastSeenAt === null ? t('site.never') : t('site.offline')}${g.lastSeenAt === null ? '' : `, ${t('site.lastSeen', { t: since(t, now - g.lastSeenAt) })}`})`).join(' · ')}
        </span>
        {h.pending > 0 ? <span> · {t('site.pending', { n: h.pending })}</span> : null}
      </p>
      {error === undefined ? null : (
        <p class="error" role="alert">
          {t('error', { msg: error })}
        </p>
      )}
      <h2>{t('site.kpis')}</h2>
      <ul class="kpis">
        <Kpi label={t('kpi.openAlarms')} value={String(h.openAlarms)} tone={h.unacked > 0 ? 'bad' : undefined} />
        <Kpi label={t('kpi.unacked')} value={String(h.unacked)} tone={h.unacked > 0 ? 'bad' : 'ok'} />
        <Kpi label={t('kpi.openWo')} value={String(h.open)} />
        <Kpi label={t('kpi.overdue')} value={String(h.overdue)} tone={h.overdue > 0 ? 'bad' : 'ok'} />
        <Kpi label={t('kpi.responseP50')} value={k?.totals.responseP50Ms == null ? '—' : duration(t, k.totals.responseP50Ms)} />
        <Kpi label={t('kpi.responseP90')} value={k?.totals.responseP90Ms == null ? '—' : duration(t, k.totals.responseP90Ms)} />
        <Kpi label={t('kpi.resolveP50')} value={k?.totals.resolveP50Ms == null ? '—' : duration(t, k.totals.resolveP50Ms)} />
        <Kpi label={t('kpi.resolveP90')} value={k?.totals.resolveP90Ms == null ? '—' : duration(t, k.totals.resolveP90Ms)} />
        <Kpi label={t('kpi.slaResponse')} value={pct(k?.totals.slaResponseCompliance)} />
        <Kpi label={t('kpi.sla')} value={pct(k?.totals.slaResolveCompliance)} />
        <Kpi label={t('kpi.availability')} value={pct(availability)} />
        <Kpi label={t('kpi.energy')} value={k?.totals.energyKwh == null ? '—' : `${Math.round(k.totals.energyKwh).toLocaleString(lang)} kWh`} />
        <Kpi label={t('kpi.rating')} value={k?.totals.satisfaction == null ? '—' : k.totals.satisfaction.toFixed(1)} />
        <Kpi label={t('kpi.alarms30d')} value={k === null ? '—' : String(k.totals.alarms)} />
      </ul>
      {sd === undefined ? <p>{t('loading')}</p> : k === null ? null : <KpiCharts t={t} kpis={k} siteScope />}
      <h2 id="h-open-alarms">{t('site.openAlarms')}</h2>
      <SiteTable labelledBy="h-open-alarms" class="open-alarms" columns={[t('col.severity'), t('col.rule'), t('col.device'), t('col.raised'), t('col.state'), t('col.workOrder')]} empty={active.length === 0 ? emptyText : undefined}>
        {active.map((a) => (
          <tr class={a.acked ? '' : 'unacked'}>
            <td>
              <span class={`sev ${a.severity}`}>{word(t, 'sev', a.severity)}</span>
            </td>
            <th scope="row">{a.rule}</th>
            <td>{a.device ?? ''}</td>
            <td>{time(a.raisedAt, lang)}</td>
            <td>{a.shelvedUntil !== null && a.shelvedUntil > now ? t('alarm.shelved') : a.acked ? t('alarm.acked') : t('alarm.unacked')}</td>
            <td>{a.workOrder === null ? '' : (sd?.workOrders.find((w) => w.id === a.workOrder)?.title ?? a.workOrder.slice(0, 8))}</td>
          </tr>
        ))}
      </SiteTable>
      <div class="section-head">
        <h2 id="h-wo">{t('site.workOrders')}</h2>
        <div class="toggle" role="group" aria-label={t('wo.filterLabel')}>
          <button type="button" class="btn" aria-pressed={woFilter === 'open'} onClick={() => setWoFilter('open')}>
            {t('wo.filterOpen')}
          </button>
          <button type="button" class="btn" aria-pressed={woFilter === 'all'} onClick={() => setWoFilter('all')}>
            {t('wo.filterAll')}
          </button>
        </div>
      </div>
      <SiteTable labelledBy="h-wo" class="work-orders" columns={[t('col.priority'), t('col.title'), t('col.status'), t('col.assignee'), t('col.created'), t('col.due')]} empty={wos.length === 0 ? emptyText : undefined}>
        {wos.map((w) => (
          <tr class={w.dueAt < now && isOpen(w) ? 'overdue' : ''}>
            <td>{w.priority}</td>
            <th scope="row">{w.title}</th>
            <td>{word(t, 'wo', w.status)}</td>
            <td>{w.assignee ?? ''}</td>
            <td>{time(w.createdAt, lang)}</td>
            <td>{time(w.dueAt, lang)}</td>
          </tr>
        ))}
      </SiteTable>
      <h2 id="h-events">{t('site.alarmEvents')}</h2>
      <SiteTable labelledBy="h-events" columns={[t('col.time'), t('col.type'), t('col.severity'), t('col.device'), t('col.message')]} empty={events.length === 0 ? emptyText : undefined}>
        {events.map((e) => (
          <tr>
            <td>{time(e.ts, lang)}</td>
            <td>{word(t, 'event', e.type)}</td>
            <td>{word(t, 'sev', e.severity)}</td>
            <td>{e.device ?? ''}</td>
            <td>{typeof e.body.message === 'string' ? e.body.message : typeof e.body.rule === 'string' ? e.body.rule : ''}</td>
          </tr>
        ))}
      </SiteTable>
    </section>
  );
}

/** A table of the site page with its column heads, or the line that says why it is empty. */
function SiteTable(props: { labelledBy: string; class?: string; columns: readonly string[]; empty: string | undefined; children: ComponentChildren }) {
  if (props.empty !== undefined) return <p>{props.empty}</p>;
  return (
    <div class="table-wrap">
      <table aria-labelledby={props.labelledBy} class={props.class}>
        <thead>
          <tr>
            {props.columns.map((c) => (
              <th scope="col">{c}</th>
            ))}
          </tr>
        </thead>
        <tbody>{props.children}</tbody>
      </table>
    </div>
  );
}

const OPEN_STATUSES = ['open', 'assigned', 'in_progress', 'on_hold'] as const;

export function App() {
  const [lang, setLangState] = useState<Lang>(() => (localStorage.getItem('steward.lang') === 'en' ? 'en' : localStorage.getItem('steward.lang') === 'zh-CN' ? 'zh-CN' : navigator.language.startsWith('zh') ? 'zh-CN' : 'en'));
  const t = useMemo(() => translator(lang), [lang]);
  const setLang = (l: Lang) => {
    localStorage.setItem('steward.lang', l);
    setLangState(l);
  };
  const [authed, setAuthed] = useState(signedIn);
  const [hash, setHash] = useState(location.hash);
  const [data, setData] = useState<Data | undefined>();
  const [error, setError] = useState<string | undefined>();
  useEffect(() => onAuth(() => setAuthed(signedIn())), []);
  useEffect(() => {
    const on = () => {
      setHash(location.hash);
      scrollTo(0, 0);
    };
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  useEffect(() => {
    document.documentElement.lang = lang;
    document.title = t('app.title');
  }, [lang]);
  useEffect(() => {
    if (!authed) return;
    const load = () =>
      Promise.all([
        api<Site[]>('/sites'),
        api<GatewayStatus[]>('/gateways'),
        Promise.all(OPEN_STATUSES.map((s) => api<WorkOrder[]>(`/work-orders?status=${s}&limit=500`))).then((l) => l.flat()),
        api<Alarm[]>('/alarms?state=active&limit=1000'),
        api<CloudEvent[]>(`/events?type=alarm.raised&since=${Date.now() - DAY}&limit=1000`),
        api<Kpis>('/kpis').catch(() => null),
        api<SiteKpis[]>('/kpis/sites').catch(() => null),
      ]).then(
        ([sites, gateways, workOrders, alarms, raised24h, kpis, siteKpis]) => {
          setData({ sites, gateways, workOrders, alarms, raised24h, kpis, siteKpis });
          setError(undefined);
        },
        (e: unknown) => setError(e instanceof Error ? e.message : String(e)),
      );
    void load();
    const timer = setInterval(() => void load(), 15_000);
    return () => clearInterval(timer);
  }, [authed]);
  if (!authed) return <Login t={t} lang={lang} setLang={setLang} />;
  const site = /^#\/site\/(.+)$/.exec(hash)?.[1];
  return (
    <>
      <header class="top">
        <a class="home" href="#/">
          <strong>{t('app.title')}</strong>
        </a>
        <span class="spacer" />
        <button class="btn" type="button" aria-label={t('lang.switchLabel')} onClick={() => setLang(lang === 'en' ? 'zh-CN' : 'en')}>
          {t('lang.switch')}
        </button>
        <button class="btn" type="button" onClick={signOut}>
          {t('logout')}
        </button>
      </header>
      <main id="main">
        {error === undefined ? null : (
          <p class="error" role="alert">
            {t('error', { msg: error })}
          </p>
        )}
        {data === undefined ? <p>{t('loading')}</p> : site === undefined ? <Overview t={t} lang={lang} data={data} /> : <SitePage t={t} lang={lang} data={data} id={decodeURIComponent(site)} />}
      </main>
    </>
  );
}
