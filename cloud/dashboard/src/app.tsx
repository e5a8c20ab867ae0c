/**
 * The company dashboard: every community (site) on one screen with its gateway's health,
 * open and overdue work orders and the day's alarms; company figures on top; a site's
 * alarm events and work orders one click away. Reads only the cloud's /v1 API.
 */
import { useEffect, useMemo, useState } from 'preact/hooks';
import { api, onAuth, signedIn, signIn, signOut, type CloudEvent, type GatewayStatus, type Site, type WorkOrder } from './api.js';
import { en, type Dictionary, type Key } from './en.js';
import { figures, online, perDay } from './kpis.js';
import { zhCN } from './zh-CN.js';

type Lang = 'zh-CN' | 'en';
type T = (k: Key, vars?: Record<string, string | number>) => string;
const dicts: Record<Lang, Dictionary> = { 'zh-CN': zhCN, en };

function translator(lang: Lang): T {
  return (k, vars) => dicts[lang][k].replace(/\{(\w+)\}/g, (m, v: string) => (vars?.[v] === undefined ? m : String(vars[v])));
}

function since(t: T, ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  const d = s < 60 ? t('s', { n: s }) : s < 3600 ? t('min', { n: Math.floor(s / 60) }) : s < 86400 ? t('h', { n: Math.floor(s / 3600) }) : t('d', { n: Math.floor(s / 86400) });
  return t('ago', { t: d });
}

const time = (ts: number, lang: Lang) => new Date(ts).toLocaleString(lang, { month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', hour12: false });

interface KpiFigures {
  readonly created: number;
  readonly responseP50Ms: number | null;
  readonly slaResolveCompliance: number | null;
  readonly satisfaction: number | null;
  readonly energyKwh: number | null;
}

/** GET /v1/kpis (docs/cloud.md "KPIs"): the last 30 days by day, the caller's whole scope. */
interface Kpis {
  readonly totals: KpiFigures;
  readonly periods: readonly (KpiFigures & { readonly period: string })[];
  readonly availability: readonly { readonly device: string; readonly availability: number }[];
}

interface Data {
  readonly sites: Site[];
  readonly gateways: GatewayStatus[];
  readonly workOrders: WorkOrder[];
  readonly alarms: CloudEvent[];
  /** null when this cloud has no KPI route. */
  readonly kpis: Kpis | null;
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

function Kpi(props: { label: string; value: string; tone?: 'bad' | 'ok' }) {
  return (
    <li class={`kpi ${props.tone ?? ''}`}>
      <span class="n">{props.value}</span>
      <span>{props.label}</span>
    </li>
  );
}

function Bars(props: { title: string; data: readonly { label: string; n: number }[] }) {
  const max = Math.max(1e-9, ...props.data.map((d) => d.n));
  return (
    <figure class="card bars">
      <figcaption>{props.title}</figcaption>
      <ol>
        {props.data.map((d) => (
          <li title={`${d.label}: ${Math.round(d.n * 10) / 10}`}>
            <span class="bar" style={{ height: `${(d.n / max) * 100}%` }} />
            <span class="sr-only">
              {d.label}: {Math.round(d.n * 10) / 10}
            </span>
          </li>
        ))}
      </ol>
    </figure>
  );
}

function Overview(props: { t: T; lang: Lang; data: Data }) {
  const { t, lang, data } = props;
  const now = Date.now();
  const f = figures(data.workOrders, data.alarms, now);
  const up = data.gateways.filter((g) => online(g, now)).length;
  const pct = (x: number | null) => (x === null ? '—' : `${Math.round(x * 100)} %`);
  // The cloud's KPIs where it serves them (30 days); figures from the lists otherwise.
  const k = data.kpis;
  const responseMs = k?.totals.responseP50Ms ?? f.responseMs;
  const sla = k?.totals.slaResolveCompliance ?? f.slaRate;
  const rating = k?.totals.satisfaction ?? f.rating;
  const availability = k === null || k.availability.length === 0 ? null : k.availability.reduce((s, a) => s + a.availability, 0) / k.availability.length;
  const periods = k?.periods.slice(-14) ?? [];
  const created = k !== null ? periods.map((p) => ({ label: p.period, n: p.created })) : perDay(data.workOrders).map((d) => ({ label: new Date(d.day).toLocaleDateString(lang), n: d.n }));
  const energy = periods.filter((p) => p.energyKwh !== null).map((p) => ({ label: p.period, n: p.energyKwh! }));
  return (
    <>
      <ul class="kpis" aria-label={t('nav.sites')}>
        <Kpi label={t('kpi.sites')} value={String(data.sites.length)} />
        <Kpi label={t('kpi.online')} value={`${up} / ${data.gateways.length}`} tone={up < data.gateways.length ? 'bad' : 'ok'} />
        <Kpi label={t('kpi.openWo')} value={String(f.open)} />
        <Kpi label={t('kpi.overdue')} value={String(f.overdue)} tone={f.overdue > 0 ? 'bad' : 'ok'} />
        <Kpi label={t('kpi.response')} value={responseMs === null ? '—' : t('min', { n: Math.round(responseMs / 60_000) })} />
        <Kpi label={t('kpi.sla')} value={pct(sla)} />
        <Kpi label={t('kpi.rating')} value={rating === null ? '—' : rating.toFixed(1)} />
        <Kpi label={t('kpi.availability')} value={pct(availability)} />
        <Kpi label={t('kpi.energy')} value={k?.totals.energyKwh == null ? '—' : `${Math.round(k.totals.energyKwh).toLocaleString(lang)} kWh`} />
        <Kpi label={t('kpi.alarms24h')} value={String(f.alarms24h)} tone={f.alarms24h > 0 ? 'bad' : undefined} />
      </ul>
      <div class="charts">
        <Bars title={t('kpi.perDay')} data={created} />
        {energy.length > 0 ? <Bars title={t('kpi.energyPerDay')} data={energy} /> : null}
      </div>
      <h2>{t('site.grid')}</h2>
      <ul class="sites">
        {data.sites.map((s) => {
          const gws = data.gateways.filter((g) => g.site === s.id);
          const sf = figures(
            data.workOrders.filter((w) => w.site === s.id),
            data.alarms.filter((e) => e.site === s.id),
            now,
          );
          const isUp = gws.length > 0 && gws.every((g) => online(g, now));
          const last = Math.max(0, ...gws.map((g) => g.lastSeenAt ?? 0));
          const state = !isUp ? 'offline' : sf.overdue > 0 || sf.alarms24h > 0 ? 'warn' : 'ok';
          return (
            <li>
              <a class={`site ${state}`} href={`#/site/${encodeURIComponent(s.id)}`} data-site={s.id}>
                <strong>{s.name}</strong>
                <span class="state">
                  {isUp ? t('site.online') : last === 0 ? t('site.never') : t('site.offline')}
                  {last > 0 ? ` · ${t('site.lastSeen', { t: since(t, now - last) })}` : ''}
                </span>
                <span>
                  {t('site.open', { n: sf.open })} · {t('site.overdue', { n: sf.overdue })}
                </span>
                <span>{t('site.alarms', { n: sf.alarms24h })}</span>
              </a>
            </li>
          );
        })}
      </ul>
      <p class="muted">{t('kpi.note')}</p>
      <span class="sr-only">{time(now, lang)}</span>
    </>
  );
}

function SitePage(props: { t: T; lang: Lang; data: Data; id: string }) {
  const { t, lang, data } = props;
  const site = data.sites.find((s) => s.id === props.id);
  const wos = data.workOrders.filter((w) => w.site === props.id);
  const alarms = data.alarms.filter((e) => e.site === props.id).slice(0, 100);
  return (
    <section aria-labelledby="site-title">
      <a href="#/">← {t('site.back')}</a>
      <h1 id="site-title">{site?.name ?? props.id}</h1>
      <h2>{t('site.workOrders')}</h2>
      {wos.length === 0 ? (
        <p>{t('site.none')}</p>
      ) : (
        <div class="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">{t('col.priority')}</th>
                <th scope="col">{t('col.title')}</th>
                <th scope="col">{t('col.status')}</th>
                <th scope="col">{t('col.assignee')}</th>
                <th scope="col">{t('col.due')}</th>
              </tr>
            </thead>
            <tbody>
              {wos.map((w) => (
                <tr class={w.dueAt < Date.now() && !['resolved', 'closed', 'cancelled'].includes(w.status) ? 'overdue' : ''}>
                  <td>{w.priority}</td>
                  <th scope="row">{w.title}</th>
                  <td>{w.status}</td>
                  <td>{w.assignee ?? ''}</td>
                  <td>{time(w.dueAt, lang)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <h2>{t('site.alarmEvents')}</h2>
      {alarms.length === 0 ? (
        <p>{t('site.none')}</p>
      ) : (
        <div class="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">{t('col.time')}</th>
                <th scope="col">{t('col.type')}</th>
                <th scope="col">{t('col.device')}</th>
                <th scope="col">{t('col.message')}</th>
              </tr>
            </thead>
            <tbody>
              {alarms.map((e) => (
                <tr>
                  <td>{time(e.ts, lang)}</td>
                  <td>
                    <code>{e.type}</code>
                  </td>
                  <td>{e.device ?? ''}</td>
                  <td>{typeof e.body.message === 'string' ? e.body.message : ''}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

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
    const on = () => setHash(location.hash);
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
        api<WorkOrder[]>('/work-orders?limit=500'),
        api<CloudEvent[]>('/events?type=alarm.*&limit=1000'),
        api<Kpis>('/kpis').catch(() => null),
      ]).then(
        ([sites, gateways, workOrders, alarms, kpis]) => {
          setData({ sites, gateways, workOrders, alarms, kpis });
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
        <strong>{t('app.title')}</strong>
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

