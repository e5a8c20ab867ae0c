/** A list of events, newest first, with the snapshot of camera events. */
import { withToken, type GatewayEvent } from '../lib/api.js';
import { formatTime } from '../lib/format.js';
import { useI18n, useLive } from '../lib/hooks.js';
import type { MessageKey } from '../i18n/index.js';

export function snapshotUrl(e: GatewayEvent): string | undefined {
  const file = (e.body.snapshot as { file?: string } | undefined)?.file;
  return file === undefined || e.device === undefined || e.device === null ? undefined : withToken(`./api/v1/snapshots/${encodeURIComponent(e.device)}/${encodeURIComponent(file)}`);
}

export function EventList(props: { events: readonly GatewayEvent[]; showDevice: boolean; thumbnails?: boolean }) {
  const { t, lang } = useI18n();
  const s = useLive('devices');
  return (
    <ol class="events">
      {props.events.map((e) => {
        const snap = props.thumbnails === true ? snapshotUrl(e) : undefined;
        const sev = ['critical', 'major', 'minor', 'warning', 'info'].includes(e.severity) ? e.severity : 'info';
        return (
          <li key={e.id} class={`event sev-${sev}`}>
            <time dateTime={new Date(e.ts).toISOString()}>{formatTime(e.ts, lang)}</time>
            <span class={`sev sev-${sev}`}>{t(`severity.${sev}` as MessageKey)}</span>
            <code>{e.type}</code>
            {props.showDevice && e.device !== undefined && e.device !== null ? <a href={`#/device/${encodeURIComponent(e.device)}`}>{s.devices.get(e.device)?.name ?? e.device}</a> : null}
            {typeof e.body.message === 'string' ? <span>{e.body.message}</span> : null}
            {snap === undefined ? null : <img src={snap} alt={t('cam.snapshotOf', { name: e.device ?? '', t: formatTime(e.ts, lang) })} loading="lazy" width={160} height={90} />}
          </li>
        );
      })}
    </ol>
  );
}
