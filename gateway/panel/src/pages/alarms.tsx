/**
 * Alarms (ISA-18.2): the live list sorted by priority then time, consequences grouped under
 * their root cause, acknowledge with a note, shelve for a while, unshelve, and a work order
 * from an alarm; the history with filters.
 */
import { useEffect, useState } from 'preact/hooks';
import { Dialog } from '../components/dialog.js';
import { alarmList, groupAlarms, type Alarm } from '../lib/alarms.js';
import { api, ApiError, may } from '../lib/api.js';
import { formatTime, formatValue } from '../lib/format.js';
import { useI18n, useLive } from '../lib/hooks.js';
import type { MessageKey } from '../i18n/index.js';

type Action = { kind: 'ack' | 'shelve'; alarm: Alarm };

function stateWords(a: Alarm, t: (k: MessageKey) => string): string {
  const parts: string[] = [];
  parts.push(a.state === 'unack_rtn' || a.state === 'normal' ? t('alarms.cleared') : t('alarms.activeState'));
  parts.push(a.state === 'unack_active' || a.state === 'unack_rtn' ? t('alarms.unacked') : t('alarms.acked'));
  if (a.shelvedUntil !== null && a.shelvedUntil > Date.now()) parts.push(t('alarms.shelved'));
  return parts.join(' · ');
}

function woLink(a: Alarm): string {
  const q = new URLSearchParams({ new: '1', alarm: a.id, title: a.message, priority: a.priority, ...(a.device === null ? {} : { device: a.device }) });
  return `#/work-orders?${q.toString()}`;
}

function AlarmRow(props: { a: Alarm; consequence?: boolean; onAction: (a: Action) => void }) {
  const { t, lang } = useI18n();
  const s = useLive('devices');
  const { a } = props;
  const unacked = a.state === 'unack_active' || a.state === 'unack_rtn';
  const shelved = a.shelvedUntil !== null && a.shelvedUntil > Date.now();
  return (
    <tr class={`alarm ${a.priority.toLowerCase()} ${unacked ? 'unacked' : ''} ${props.consequence === true ? 'consequence' : ''}`} data-alarm={a.id}>
      <td>
        <span class={`prio ${a.priority.toLowerCase()}`}>{a.priority}</span>
      </td>
      <th scope="row">
        {props.consequence === true ? <span aria-hidden="true">↳ </span> : null}
        {a.message}
        {a.value === null ? null : <small> ({formatValue(a.value, lang)})</small>}
        {a.device === null ? null : (
          <div>
            <a href={`#/device/${encodeURIComponent(a.device)}`}>{s.devices.get(a.device)?.name ?? a.device}</a>
          </div>
        )}
      </th>
      <td>{formatTime(a.raisedAt, lang, true)}</td>
      <td>{stateWords(a, t)}</td>
      <td class="row-actions">
        {unacked ? (
          <button type="button" class="btn small primary" disabled={!may('operator')} onClick={() => props.onAction({ kind: 'ack', alarm: a })} aria-label={`${t('alarms.ack')}: ${a.message}`}>
            {t('alarms.ack')}
          </button>
        ) : null}
        {shelved ? (
          <button type="button" class="btn small" disabled={!may('operator')} onClick={() => void alarmList.unshelve(a.id)}>
            {t('alarms.unshelve')}
          </button>
        ) : (
          <button type="button" class="btn small" disabled={!may('operator')} onClick={() => props.onAction({ kind: 'shelve', alarm: a })} aria-label={`${t('alarms.shelve')}: ${a.message}`}>
            {t('alarms.shelve')}
          </button>
        )}
        <a class="btn small" href={woLink(a)}>
          {t('alarms.createWo')}
        </a>
      </td>
    </tr>
  );
}

function ActionDialog(props: { action: Action; onClose: () => void }) {
  const { t } = useI18n();
  const { kind, alarm } = props.action;
  const [note, setNote] = useState('');
  const [minutes, setMinutes] = useState(60);
  const [error, setError] = useState<string | undefined>();
  const submit = async (e: Event) => {
    e.preventDefault();
    try {
      if (kind === 'ack') await alarmList.ack(alarm.id, note.trim());
      else await alarmList.shelve(alarm.id, minutes, note.trim());
      props.onClose();
    } catch (err) {
      setError(t('alarms.failed', { msg: err instanceof ApiError ? err.message : String(err) }));
    }
  };
  return (
    <Dialog title={t(kind === 'ack' ? 'alarms.ackTitle' : 'alarms.shelveTitle')} onClose={props.onClose}>
      <form onSubmit={submit}>
        <p>
          <span class={`prio ${alarm.priority.toLowerCase()}`}>{alarm.priority}</span> {alarm.message}
        </p>
        {kind === 'shelve' ? (
          <>
            <label for="shelve-minutes">{t('alarms.shelveFor')}</label>
            <select id="shelve-minutes" value={minutes} onChange={(e) => setMinutes(Number(e.currentTarget.value))}>
              {[15, 60, 240, 480].map((m) => (
                <option value={m}>{t('alarms.minutes', { n: m })}</option>
              ))}
            </select>
          </>
        ) : null}
        <label for="alarm-note">{kind === 'ack' ? t('alarms.note') : t('alarms.reason')}</label>
        <textarea id="alarm-note" rows={3} value={note} onInput={(e) => setNote(e.currentTarget.value)} required={kind === 'shelve'} />
        {error === undefined ? null : (
          <p class="error" role="alert">
            {error}
          </p>
        )}
        <div class="actions">
          <button type="button" class="btn" onClick={props.onClose}>
            {t('write.cancel')}
          </button>
          <button type="submit" class="btn primary" data-testid="alarm-action-submit">
            {t(kind === 'ack' ? 'alarms.ack' : 'alarms.shelve')}
          </button>
        </div>
      </form>
    </Dialog>
  );
}

interface HistoryEntry {
  readonly seq: number;
  readonly ts: number;
  readonly alarm: string;
  readonly type: string;
  readonly device: string | null;
  readonly severity: string;
  readonly priority: string;
  readonly actor: string | null;
  readonly note: string | null;
  readonly body: Readonly<Record<string, unknown>>;
}

function History() {
  const { t, lang } = useI18n();
  const [severity, setSeverity] = useState('');
  const [device, setDevice] = useState('');
  const [from, setFrom] = useState('');
  const [to, setTo] = useState('');
  const [items, setItems] = useState<HistoryEntry[] | undefined>();
  const [error, setError] = useState<string | undefined>();
  const s = useLive('devices');
  const load = async (e?: Event) => {
    e?.preventDefault();
    const q = new URLSearchParams({ limit: '200' });
    if (severity !== '') q.set('severity', severity);
    if (device !== '') q.set('device', device);
    if (from !== '') q.set('from', String(new Date(from).getTime()));
    if (to !== '') q.set('to', String(new Date(to).getTime()));
    try {
      const data = await api<HistoryEntry[] | { items: HistoryEntry[] }>(`./api/v1/alarms/history?${q.toString()}`);
      setItems(Array.isArray(data) ? data : data.items);
      setError(undefined);
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
    }
  };
  useEffect(() => {
    void load();
  }, []);
  return (
    <section aria-labelledby="history-title">
      <h2 id="history-title">{t('alarms.history')}</h2>
      <form class="filters" onSubmit={load}>
        <label>
          {t('events.severity')}
          <select value={severity} onChange={(e) => setSeverity(e.currentTarget.value)}>
            <option value="">{t('alarms.any')}</option>
            {['critical', 'major', 'minor', 'warning'].map((v) => (
              <option value={v}>{t(`severity.${v}` as MessageKey)}</option>
            ))}
          </select>
        </label>
        <label>
          {t('alarms.filterDevice')}
          <select value={device} onChange={(e) => setDevice(e.currentTarget.value)}>
            <option value="">{t('alarms.any')}</option>
            {[...s.devices.values()].map((d) => (
              <option value={d.id}>{d.name}</option>
            ))}
          </select>
        </label>
        <label>
          {t('alarms.filterFrom')}
          <input type="datetime-local" value={from} onInput={(e) => setFrom(e.currentTarget.value)} />
        </label>
        <label>
          {t('alarms.filterTo')}
          <input type="datetime-local" value={to} onInput={(e) => setTo(e.currentTarget.value)} />
        </label>
        <button type="submit" class="btn">
          {t('alarms.apply')}
        </button>
      </form>
      {error === undefined ? null : <p class="error">{t('common.error', { msg: error })}</p>}
      <div class="table-wrap">
        <table>
          <thead>
            <tr>
              <th scope="col">{t('events.time')}</th>
              <th scope="col">{t('alarms.priority')}</th>
              <th scope="col">{t('events.type')}</th>
              <th scope="col">{t('alarms.message')}</th>
              <th scope="col">{t('events.device')}</th>
              <th scope="col">{t('alarms.note')}</th>
            </tr>
          </thead>
          <tbody>
            {(items ?? []).map((h) => (
              <tr key={h.seq}>
                <td>{formatTime(h.ts, lang, true)}</td>
                <td>
                  <span class={`prio ${h.priority.toLowerCase()}`}>{h.priority}</span>
                </td>
                <td>
                  <code>{h.type}</code>
                </td>
                <td>{typeof h.body.message === 'string' ? h.body.message : h.alarm}</td>
                <td>{h.device === null ? '' : (s.devices.get(h.device)?.name ?? h.device)}</td>
                <td>{[h.actor, h.note].filter(Boolean).join(': ')}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}

export function AlarmsPage() {
  const { t } = useI18n();
  useLive('alarms');
  const [tab, setTab] = useState<'active' | 'history'>('active');
  const [action, setAction] = useState<Action | undefined>();
  const alarms = alarmList.alarms;
  if (alarms === undefined) return <p>{t('common.loading')}</p>;
  if (alarms === null)
    return (
      <section>
        <h1>{t('alarms.title')}</h1>
        <p>{t('alarms.unavailable')}</p>
      </section>
    );
  const groups = groupAlarms(alarms.filter((a) => a.state !== 'normal'));
  return (
    <section aria-labelledby="alarms-title">
      <div class="page-head">
        <h1 id="alarms-title">{t('alarms.title')}</h1>
        <div class="toolbar" role="tablist">
          <button type="button" role="tab" aria-selected={tab === 'active'} class={tab === 'active' ? 'btn primary' : 'btn'} onClick={() => setTab('active')}>
            {t('alarms.active')}
          </button>
          <button type="button" role="tab" aria-selected={tab === 'history'} class={tab === 'history' ? 'btn primary' : 'btn'} onClick={() => setTab('history')}>
            {t('alarms.history')}
          </button>
        </div>
      </div>
      {tab === 'history' ? (
        <History />
      ) : groups.length === 0 ? (
        <p>{t('alarms.none')}</p>
      ) : (
        <div class="table-wrap">
          <table class="alarms">
            <thead>
              <tr>
                <th scope="col">{t('alarms.priority')}</th>
                <th scope="col">{t('alarms.message')}</th>
                <th scope="col">{t('alarms.since')}</th>
                <th scope="col">{t('alarms.status')}</th>
                <th scope="col">{t('device.actions')}</th>
              </tr>
            </thead>
            {groups.map((g) => (
              <tbody key={g.root.id} class="alarm-group">
                <AlarmRow a={g.root} onAction={setAction} />
                {g.consequences.length > 0 ? (
                  <tr class="consequence-head">
                    <td />
                    <td colSpan={4}>
                      <small>{t('alarms.consequences', { n: g.consequences.length })}</small>
                    </td>
                  </tr>
                ) : null}
                {g.consequences.map((c) => (
                  <AlarmRow key={c.id} a={c} consequence onAction={setAction} />
                ))}
              </tbody>
            ))}
          </table>
        </div>
      )}
      {action === undefined ? null : <ActionDialog action={action} onClose={() => setAction(undefined)} />}
    </section>
  );
}
