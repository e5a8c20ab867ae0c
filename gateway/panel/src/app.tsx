/**
 * The panel's frame: sign-in gate, the status bar that is always visible (gateway health,
 * cloud sync with its backlog, live connection, new-P1 cue), navigation, and the page of
 * the current route.
 */
import { useEffect, useMemo, useState } from 'preact/hooks';
import { translator, type Lang } from './i18n/index.js';
import { alarmList } from './lib/alarms.js';
import { currentSession, onSession, setSession } from './lib/api.js';
import { beep, isMuted, setMuted } from './lib/cue.js';
import { durationParts, formatTime } from './lib/format.js';
import { I18nContext, useI18n, useLive } from './lib/hooks.js';
import { live } from './lib/live.js';
import { useRoute } from './lib/router.js';
import { AlarmsPage } from './pages/alarms.js';
import { CamerasPage } from './pages/cameras.js';
import { DevicePage } from './pages/device.js';
import { LoginPage } from './pages/login.js';
import { OverviewPage } from './pages/overview.js';
import { WorkOrdersPage } from './pages/work-orders.js';

function initialLang(): Lang {
  const saved = localStorage.getItem('steward.lang');
  if (saved === 'en' || saved === 'zh-CN') return saved;
  return navigator.language.toLowerCase().startsWith('zh') ? 'zh-CN' : 'en';
}

export function App() {
  const [lang, setLangState] = useState<Lang>(initialLang);
  const [session, setSessionState] = useState(currentSession);
  useEffect(() => onSession(() => setSessionState(currentSession())), []);
  useEffect(() => {
    document.documentElement.lang = lang;
  }, [lang]);
  const i18n = useMemo(
    () => ({
      lang,
      t: translator(lang),
      setLang: (l: Lang) => {
        localStorage.setItem('steward.lang', l);
        setLangState(l);
      },
    }),
    [lang],
  );
  useEffect(() => {
    document.title = i18n.t('app.title');
  }, [i18n]);
  return <I18nContext.Provider value={i18n}>{session === undefined ? <LoginPage /> : <Shell />}</I18nContext.Provider>;
}

function LangSwitch() {
  const { lang, t, setLang } = useI18n();
  return (
    <button type="button" class="btn ghost" lang={lang === 'en' ? 'zh-CN' : 'en'} aria-label={t('lang.switchLabel')} onClick={() => setLang(lang === 'en' ? 'zh-CN' : 'en')}>
      {t('lang.switch')}
    </button>
  );
}

function StatusBar() {
  const { t, lang } = useI18n();
  const s = useLive('meta');
  const [, tick] = useState(0);
  useEffect(() => {
    const timer = setInterval(() => tick((n) => n + 1), 5000);
    return () => clearInterval(timer);
  }, []);
  const ago = (ts: number) => {
    const d = durationParts(Date.now() - ts);
    return t('time.ago', { t: t(d.key, { n: d.n }) });
  };
  const sync = s.sync;
  const syncClass = sync === undefined || !sync.enabled ? 'badge neutral' : sync.online ? 'badge ok' : 'badge bad';
  const storeOk = s.health === undefined || s.health.status === 'ok';
  return (
    <div class="statusbar" role="status" aria-live="polite">
      <span class={storeOk ? 'badge ok' : 'badge bad'} title={t('health.title')} data-testid="health">
        {storeOk ? t('health.ok') : t('health.failing')}
        {s.health !== undefined && storeOk ? <small> · {t('health.uptime', { t: t(durationParts(s.health.uptimeS * 1000).key, { n: durationParts(s.health.uptimeS * 1000).n }) })}</small> : null}
      </span>
      <span class={syncClass} data-testid="sync" title={sync?.lastError?.message ?? t('sync.title')}>
        {sync === undefined || !sync.enabled ? t('sync.disabled') : sync.online ? t('sync.online') : t('sync.offline')}
        {sync !== undefined && sync.enabled ? (
          <small>
            {' '}
            · {t('sync.backlog', { n: sync.backlog.toLocaleString(lang) })} · {sync.lastSuccessAt === null ? t('sync.never') : t('sync.lastSync', { t: ago(sync.lastSuccessAt) })}
          </small>
        ) : null}
      </span>
      <span class={s.connected ? 'badge ok' : 'badge warn'} aria-label={t('status.liveLabel')} data-testid="live">
        <span class={s.connected ? 'dot live' : 'dot'} aria-hidden="true" />
        {s.connected ? t('status.live') : t('status.reconnecting')}
      </span>
      {s.sync?.lastSuccessAt !== undefined && s.sync?.lastSuccessAt !== null ? <span class="sr-only">{formatTime(s.sync.lastSuccessAt, lang)}</span> : null}
    </div>
  );
}

/** The cue of a new P1 alarm: a banner across the page and a beep (unless muted). */
function P1Banner() {
  const { t } = useI18n();
  useLive('alarms');
  const cue = alarmList.newP1;
  const newest = cue[0]?.occurrence;
  useEffect(() => {
    if (newest !== undefined) beep();
  }, [newest]);
  if (cue.length === 0) return null;
  return (
    <div class="p1-banner" role="alert">
      <a href="#/alarms" onClick={() => alarmList.dismissCue()}>
        {t('alarms.newP1', { msg: cue[0]!.message })}
      </a>
      <button type="button" class="btn ghost" aria-label={t('common.close')} onClick={() => alarmList.dismissCue()}>
        ✕
      </button>
    </div>
  );
}

function MuteButton() {
  const { t } = useI18n();
  const [muted, setMutedState] = useState(isMuted);
  return (
    <button
      type="button"
      class="btn ghost mute"
      aria-pressed={muted}
      onClick={() => {
        setMuted(!muted);
        setMutedState(!muted);
      }}
    >
      {t('alarms.mute')}
    </button>
  );
}

function Shell() {
  const { t } = useI18n();
  const route = useRoute();
  const s = useLive('meta', 'alarms');
  const session = currentSession();
  useEffect(() => {
    live.start();
    void alarmList.load();
    return () => live.stop();
  }, []);
  const active = (alarmList.alarms ?? []).filter((a) => a.state === 'unack_active' || a.state === 'unack_rtn').length;
  const nav: [typeof route.page, string, string][] = [
    ['overview', '#/', t('nav.overview')],
    ['alarms', '#/alarms', t('nav.alarms')],
    ['work-orders', '#/work-orders', t('nav.workOrders')],
    ['cameras', '#/cameras', t('nav.cameras')],
  ];
  return (
    <>
      <a class="skip" href="#main" onClick={(e) => (e.preventDefault(), document.getElementById('main')?.focus())}>
        {t('app.skip')}
      </a>
      <header class="top">
        <div class="brand">
          <strong>Steward</strong> <span>{s.site?.name ?? ''}</span>
        </div>
        <StatusBar />
        <div class="user">
          <MuteButton />
          <LangSwitch />
          <span class="who">
            {session?.name} ({t(`user.role.${session?.role ?? 'viewer'}`)})
          </span>
          <button type="button" class="btn ghost" onClick={() => setSession(undefined)}>
            {t('user.logout')}
          </button>
        </div>
      </header>
      <P1Banner />
      <nav class="nav" aria-label={t('nav.main')}>
        {nav.map(([page, href, label]) => (
          <a href={href} aria-current={route.page === page ? 'page' : undefined}>
            {label}
            {page === 'alarms' && active > 0 ? (
              <span class="count bad" data-testid="alarm-count">
                {active}
              </span>
            ) : null}
          </a>
        ))}
      </nav>
      <main id="main" tabIndex={-1}>
        {route.page === 'overview' ? <OverviewPage /> : null}
        {route.page === 'device' ? <DevicePage id={route.arg ?? ''} /> : null}
        {route.page === 'alarms' ? <AlarmsPage /> : null}
        {route.page === 'work-orders' ? <WorkOrdersPage query={route.query} /> : null}
        {route.page === 'cameras' ? <CamerasPage /> : null}
      </main>
    </>
  );
}
