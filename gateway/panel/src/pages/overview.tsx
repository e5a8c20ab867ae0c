/**
 * Overview: every device as a tile coloured by state (normal, alarm, offline, stale — with
 * the state also in words, never colour alone), counts at a glance, grouped by system or by
 * building and floor. Re-renders only when device states or alarms change, not per reading.
 */
import { Component } from 'preact';
import { useState } from 'preact/hooks';
import type { MessageKey } from '../i18n/index.js';
import type { Device } from '../lib/api.js';
import { useI18n, useLive } from '../lib/hooks.js';
import { live, type TileState } from '../lib/live.js';

const SYSTEMS = ['elevator', 'water', 'power', 'hvac', 'lighting', 'fire', 'access', 'camera', 'other'] as const;
const STATES: readonly TileState[] = ['alarm', 'offline', 'stale', 'normal'];

function systemKey(s: string): MessageKey {
  return `system.${(SYSTEMS as readonly string[]).includes(s) ? s : 'other'}` as MessageKey;
}

interface TileProps {
  readonly d: Device;
  readonly state: TileState;
  readonly t: ReturnType<typeof useI18n>['t'];
}

/** One tile; re-rendered only when its device, state or language changed (2,000 tiles must not all re-render for one change). */
class Tile extends Component<TileProps> {
  override shouldComponentUpdate(next: TileProps): boolean {
    return next.d !== this.props.d || next.state !== this.props.state || next.t !== this.props.t;
  }

  override render() {
    return <TileBody {...this.props} />;
  }
}

function TileBody(props: TileProps) {
  const { d, state, t } = props;
  const where = [d.location.building, d.location.floor].filter(Boolean).join(' · ');
  return (
    <li>
      <a class={`tile ${state}`} href={`#/device/${encodeURIComponent(d.id)}`} aria-label={`${d.name}, ${t(`state.${state}`)}`} data-device={d.id} data-state={state}>
        <span class="tile-name">{d.name}</span>
        <span class="tile-meta">
          <span class="tile-state">{t(`state.${state}`)}</span>
          {where === '' ? null : <span>{where}</span>}
        </span>
      </a>
    </li>
  );
}

function Counts(props: { devices: readonly Device[] }) {
  const { t } = useI18n();
  const counts: Record<TileState, number> = { normal: 0, alarm: 0, offline: 0, stale: 0 };
  for (const d of props.devices) counts[live.tileState(d)]++;
  return (
    <ul class="counts" aria-label={t('overview.devices', { n: props.devices.length })}>
      {STATES.map((s) => (
        <li class={`count-card ${s}`} data-testid={`count-${s}`}>
          <span class="n">{counts[s]}</span>
          <span>{t(`state.${s}`)}</span>
        </li>
      ))}
    </ul>
  );
}

export function OverviewPage() {
  const { t } = useI18n();
  const s = useLive('devices');
  const [groupBy, setGroupBy] = useState<'system' | 'location'>(() => (localStorage.getItem('steward.groupBy') === 'location' ? 'location' : 'system'));
  const [filter, setFilter] = useState('');
  const all = [...s.devices.values()];
  const f = filter.trim().toLowerCase();
  const devices = f === '' ? all : all.filter((d) => d.name.toLowerCase().includes(f) || d.id.includes(f));

  const groups = new Map<string, { title: string; devices: Device[] }>();
  if (groupBy === 'system') {
    for (const sys of SYSTEMS) groups.set(sys, { title: t(systemKey(sys)), devices: [] });
    for (const d of devices) groups.get((SYSTEMS as readonly string[]).includes(d.system) ? d.system : 'other')!.devices.push(d);
  } else {
    const sorted = [...devices].sort((a, b) => `${a.location.building ?? '~'}/${a.location.floor ?? ''}`.localeCompare(`${b.location.building ?? '~'}/${b.location.floor ?? ''}`));
    for (const d of sorted) {
      const key = `${d.location.building ?? ''}/${d.location.floor ?? ''}`;
      const title = d.location.building === undefined ? t('overview.noLocation') : [d.location.building, d.location.floor === undefined ? undefined : t('overview.floor', { f: d.location.floor })].filter(Boolean).join(' · ');
      let g = groups.get(key);
      if (g === undefined) groups.set(key, (g = { title, devices: [] }));
      g.devices.push(d);
    }
  }

  return (
    <section aria-labelledby="overview-title">
      <div class="page-head">
        <h1 id="overview-title">{t('overview.title')}</h1>
        <div class="toolbar">
          <fieldset class="segmented">
            <legend>{t('overview.groupBy')}</legend>
            {(['system', 'location'] as const).map((g) => (
              <label>
                <input
                  type="radio"
                  name="groupBy"
                  value={g}
                  checked={groupBy === g}
                  onChange={() => {
                    localStorage.setItem('steward.groupBy', g);
                    setGroupBy(g);
                  }}
                />
                <span>{t(g === 'system' ? 'overview.bySystem' : 'overview.byLocation')}</span>
              </label>
            ))}
          </fieldset>
          <label class="filter">
            <span class="sr-only">{t('overview.filter')}</span>
            <input type="search" placeholder={t('overview.filter')} value={filter} onInput={(e) => setFilter(e.currentTarget.value)} />
          </label>
        </div>
      </div>
      <Counts devices={all} />
      {devices.length === 0 && all.length > 0 ? <p>{t('overview.noDevices')}</p> : null}
      {[...groups.entries()]
        .filter(([, g]) => g.devices.length > 0)
        .map(([key, g]) => {
          const bad = g.devices.filter((d) => live.tileState(d) !== 'normal').length;
          return (
            <section class="group" aria-labelledby={`g-${key}`} key={key}>
              <h2 id={`g-${key}`}>
                {g.title} <small>{t('overview.devices', { n: g.devices.length })}</small>
                {bad > 0 ? <span class="count bad">{bad}</span> : null}
              </h2>
              <ul class="tiles">
                {g.devices.map((d) => (
                  <Tile key={d.id} d={d} state={live.tileState(d)} t={t} />
                ))}
              </ul>
            </section>
          );
        })}
    </section>
  );
}
