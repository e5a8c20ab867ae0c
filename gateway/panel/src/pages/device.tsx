/**
 * A device: its state, live values with units and quality, a trend of any numeric point,
 * recent events, the models' latest results, and write controls for writable points —
 * behind a confirm dialog; the gateway checks the role and audits the write.
 */
import { useEffect, useState } from 'preact/hooks';
import { Dialog } from '../components/dialog.js';
import { api, ApiError, may, type GatewayEvent, type PointInfo, type Value } from '../lib/api.js';
import { formatTime, formatValue } from '../lib/format.js';
import { useI18n, useLive } from '../lib/hooks.js';
import type { MessageKey } from '../i18n/index.js';
import { Trend } from './trend.js';
import { EventList } from './events.js';

interface DeviceDetail {
  readonly points: readonly PointInfo[];
}

function parseInput(p: PointInfo, raw: string): Value {
  if (p.type === 'bool' || p.type === 'bits') return raw === 'true' || raw === '1';
  if (p.type === 'string') return raw;
  return Number(raw);
}

function WriteDialog(props: { device: string; point: PointInfo; current: Value | null; onClose: (msg?: string) => void }) {
  const { t, lang } = useI18n();
  const { point } = props;
  const isBool = point.type === 'bool' || point.type === 'bits';
  const [raw, setRaw] = useState(props.current === null ? '' : String(props.current));
  const [step, setStep] = useState<'edit' | 'confirm'>('edit');
  const [error, setError] = useState<string | undefined>();
  const value = parseInput(point, raw);
  const label = `${props.device}.${point.name}`;
  const write = async () => {
    try {
      await api(`./api/v1/points/${encodeURIComponent(label)}/write`, { method: 'POST', body: { value } });
      props.onClose(t('write.done', { point: label, v: formatValue(value, lang) }));
    } catch (e) {
      setError(t('write.failed', { msg: e instanceof ApiError ? e.message : String(e) }));
      setStep('edit');
    }
  };
  return (
    <Dialog title={t('write.title', { point: point.name })} onClose={() => props.onClose()}>
      <form
        method="dialog"
        onSubmit={(e) => {
          e.preventDefault();
          if (step === 'edit') setStep('confirm');
          else void write();
        }}
      >
        <p>{t('write.current', { v: `${formatValue(props.current, lang)} ${point.unit ?? ''}` })}</p>
        {step === 'edit' ? (
          <>
            <label for="write-value">{t('write.newValue')}</label>
            {isBool ? (
              <select id="write-value" value={raw === 'true' || raw === '1' ? 'true' : 'false'} onChange={(e) => setRaw(e.currentTarget.value)}>
                <option value="true">{formatValue(true, lang)}</option>
                <option value="false">{formatValue(false, lang)}</option>
              </select>
            ) : point.type === 'string' ? (
              <input id="write-value" type="text" required value={raw} onInput={(e) => setRaw(e.currentTarget.value)} />
            ) : (
              <input
                id="write-value"
                type="number"
                step="any"
                required
                min={point.range?.[0]}
                max={point.range?.[1]}
                value={raw}
                onInput={(e) => setRaw(e.currentTarget.value)}
                aria-describedby={point.range === null ? undefined : 'write-range'}
              />
            )}
            {point.range === null ? null : <p id="write-range" class="muted">{t('write.range', { min: point.range[0], max: point.range[1] })}</p>}
          </>
        ) : (
          <p class="confirm" role="alert">
            {t('write.sure', { v: `${formatValue(value, lang)} ${point.unit ?? ''}`, point: label })}
          </p>
        )}
        {error === undefined ? null : (
          <p class="error" role="alert">
            {error}
          </p>
        )}
        <div class="actions">
          <button type="button" class="btn" onClick={() => props.onClose()}>
            {t('write.cancel')}
          </button>
          <button type="submit" class="btn primary" data-testid="write-submit">
            {t('write.confirm')}
          </button>
        </div>
      </form>
    </Dialog>
  );
}

export function DevicePage(props: { id: string }) {
  const { t, lang } = useI18n();
  const s = useLive('devices', 'readings', 'events');
  const [detail, setDetail] = useState<DeviceDetail | undefined>();
  const [history, setHistory] = useState<GatewayEvent[]>([]);
  const [trend, setTrend] = useState<string | undefined>();
  const [writing, setWriting] = useState<PointInfo | undefined>();
  const [notice, setNotice] = useState<string | undefined>();
  useEffect(() => {
    setDetail(undefined);
    setTrend(undefined);
    api<DeviceDetail>(`./api/v1/devices/${encodeURIComponent(props.id)}`).then(setDetail, () => setDetail({ points: [] }));
    api<GatewayEvent[]>(`./api/v1/events?device=${encodeURIComponent(props.id)}&limit=30`).then(setHistory, () => setHistory([]));
  }, [props.id]);
  const d = s.devices.get(props.id);
  if (d === undefined)
    return (
      <section>
        <p>{s.devices.size === 0 ? t('common.loading') : t('device.notFound', { id: props.id })}</p>
        <a href="#/">{t('device.back')}</a>
      </section>
    );
  const tile = s.tileState(d);
  const seen = new Set(history.map((e) => e.id));
  const events = [...s.events.filter((e) => e.device === d.id && !seen.has(e.id)), ...history].slice(0, 30);
  const anomaly = events.find((e) => e.type === 'anomaly.detected');
  const failure = events.find((e) => e.type === 'failure.predicted');
  const where = [d.location.building, d.location.floor, d.location.room].filter(Boolean).join(' · ');
  return (
    <section aria-labelledby="device-title">
      <a href="#/" class="back">
        ← {t('device.back')}
      </a>
      <div class="page-head">
        <h1 id="device-title">{d.name}</h1>
        <span class={`badge state-${tile}`} data-testid="device-state">
          {t(`state.${tile}`)}
        </span>
      </div>
      <dl class="facts">
        <div>
          <dt>{t('device.state')}</dt>
          <dd>{t(`devstate.${d.state}` as MessageKey)}</dd>
        </div>
        <div>
          <dt>{t('device.location')}</dt>
          <dd>{where || t('common.none')}</dd>
        </div>
        <div>
          <dt>{t('device.protocol')}</dt>
          <dd>{d.protocol}</dd>
        </div>
        <div>
          <dt>{t('device.profile')}</dt>
          <dd>{d.profile}</dd>
        </div>
        <div>
          <dt>{t('device.lastOk')}</dt>
          <dd>{formatTime(d.lastOkAt, lang)}</dd>
        </div>
        {d.lastError === null ? null : (
          <div>
            <dt>{t('device.lastError')}</dt>
            <dd class="error">{d.lastError.message}</dd>
          </div>
        )}
      </dl>
      {notice === undefined ? null : (
        <p class="notice" role="status">
          {notice}
        </p>
      )}
      {trend === undefined ? null : <Trend point={trend} label={trend.slice(d.id.length + 1)} onClose={() => setTrend(undefined)} />}
      <div class="columns">
        <section class="card" aria-labelledby="points-title">
          <h2 id="points-title">{t('device.points')}</h2>
          <div class="table-wrap">
            <table class="points">
              <thead>
                <tr>
                  <th scope="col">{t('device.point')}</th>
                  <th scope="col" class="num">
                    {t('device.value')}
                  </th>
                  <th scope="col">{t('device.unit')}</th>
                  <th scope="col">{t('device.quality')}</th>
                  <th scope="col">{t('device.time')}</th>
                  <th scope="col">{t('device.actions')}</th>
                </tr>
              </thead>
              <tbody>
                {(detail?.points ?? []).map((p) => {
                  const id = `${d.id}.${p.name}`;
                  const l = s.latest.get(id);
                  const numeric = p.type !== 'string';
                  return (
                    <tr key={id} data-point={p.name}>
                      <th scope="row" title={p.description ?? undefined}>
                        {p.name}
                      </th>
                      <td class="num" data-testid={`value-${p.name}`}>
                        {formatValue(l?.value, lang)}
                      </td>
                      <td>{p.unit ?? ''}</td>
                      <td>{l === undefined ? '' : <span class={`q q-${l.quality}`}>{t(`quality.${l.quality}`)}</span>}</td>
                      <td>{formatTime(l?.ts, lang)}</td>
                      <td class="row-actions">
                        {numeric ? (
                          <button type="button" class="btn small" onClick={() => setTrend(id)} aria-label={`${t('device.trend')} ${p.name}`}>
                            {t('device.trend')}
                          </button>
                        ) : null}
                        {p.access === 'rw' ? (
                          <button
                            type="button"
                            class="btn small"
                            disabled={!may('operator')}
                            title={may('operator') ? undefined : t('write.needRole')}
                            onClick={() => setWriting(p)}
                            aria-label={`${t('device.write')} ${p.name}`}
                          >
                            {t('device.write')}
                          </button>
                        ) : null}
                      </td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </div>
        </section>
        <div class="stack">
          <section class="card" aria-labelledby="ml-title">
            <h2 id="ml-title">{t('device.ml')}</h2>
            {anomaly === undefined && failure === undefined ? <p class="muted">{t('device.noModel')}</p> : null}
            {anomaly === undefined ? null : (
              <p data-testid="ml-anomaly">
                {t('device.anomaly')}: <strong>{formatValue((anomaly.body.score as number | undefined) ?? null, lang)}</strong>
                {typeof anomaly.body.threshold === 'number' ? <small> / {formatValue(anomaly.body.threshold, lang)}</small> : null} <small>{String(anomaly.body.model ?? '')} · {formatTime(anomaly.ts, lang)}</small>
              </p>
            )}
            {failure === undefined ? null : (
              <p data-testid="ml-rul">
                {t('device.rul')}:{' '}
                <strong>
                  {t('device.rulValue', {
                    h: formatValue((failure.body.horizonHours as number | undefined) ?? null, lang),
                    c: typeof failure.body.confidence === 'number' ? Math.round(failure.body.confidence * 100) : '—',
                  })}
                </strong>{' '}
                <small>
                  {String(failure.body.model ?? '')} · {formatTime(failure.ts, lang)}
                </small>
              </p>
            )}
          </section>
          <section class="card" aria-labelledby="events-title">
            <h2 id="events-title">{t('device.events')}</h2>
            {events.length === 0 ? <p class="muted">{t('device.noEvents')}</p> : <EventList events={events} showDevice={false} />}
          </section>
        </div>
      </div>
      {writing === undefined ? null : (
        <WriteDialog
          device={d.id}
          point={writing}
          current={s.latest.get(`${d.id}.${writing.name}`)?.value ?? null}
          onClose={(msg) => {
            setWriting(undefined);
            if (msg !== undefined) setNotice(msg);
          }}
        />
      )}
    </section>
  );
}
