/** Cameras: the latest snapshot of each camera in a grid, and the latest camera events with theirs. */
import { useEffect, useState } from 'preact/hooks';
import { api, type GatewayEvent } from '../lib/api.js';
import { formatTime } from '../lib/format.js';
import { useI18n, useLive } from '../lib/hooks.js';
import { EventList, snapshotUrl } from './events.js';

export function CamerasPage() {
  const { t, lang } = useI18n();
  const s = useLive('devices', 'events');
  const [history, setHistory] = useState<GatewayEvent[]>([]);
  useEffect(() => {
    api<GatewayEvent[]>('./api/v1/events?type=camera.*&limit=100').then(setHistory, () => setHistory([]));
  }, []);
  const cameras = [...s.devices.values()].filter((d) => d.system === 'camera');
  const seen = new Set(history.map((e) => e.id));
  const events = [...s.events.filter((e) => e.type.startsWith('camera.') && !seen.has(e.id)), ...history];
  return (
    <section aria-labelledby="cam-title">
      <h1 id="cam-title">{t('cam.title')}</h1>
      {cameras.length === 0 ? <p>{t('cam.none')}</p> : null}
      <ul class="cameras">
        {cameras.map((c) => {
          const last = events.find((e) => e.device === c.id && snapshotUrl(e) !== undefined);
          const url = last === undefined ? undefined : snapshotUrl(last);
          return (
            <li class="card camera" key={c.id}>
              <h2>
                <a href={`#/device/${encodeURIComponent(c.id)}`}>{c.name}</a> <span class={`badge state-${s.tileState(c)}`}>{t(`state.${s.tileState(c)}`)}</span>
              </h2>
              {url === undefined || last === undefined ? (
                <div class="no-snapshot">{t('cam.noSnapshot')}</div>
              ) : (
                <figure>
                  <img src={url} alt={t('cam.snapshotOf', { name: c.name, t: formatTime(last.ts, lang) })} />
                  <figcaption>
                    <code>{last.type}</code> {formatTime(last.ts, lang, true)}
                  </figcaption>
                </figure>
              )}
            </li>
          );
        })}
      </ul>
      <section class="card" aria-labelledby="cam-events">
        <h2 id="cam-events">{t('cam.latest')}</h2>
        <EventList events={events.slice(0, 40)} showDevice thumbnails />
      </section>
    </section>
  );
}
