/**
 * Work orders (工单) at the edge: the list, a new one (also from an alarm), and status
 * changes and notes — offline too. An operation the cloud has not confirmed yet is marked
 * pending; one it refused shows its reason (DESIGN.md "Work orders converge").
 */
import { useEffect, useState } from 'preact/hooks';
import { Dialog } from '../components/dialog.js';
import { api, ApiError, may } from '../lib/api.js';
import { formatTime } from '../lib/format.js';
import { useI18n, useLive } from '../lib/hooks.js';
import { live } from '../lib/live.js';
import type { MessageKey } from '../i18n/index.js';

interface WorkOrder {
  readonly id: string;
  readonly title: string;
  readonly category: string;
  readonly priority: string;
  readonly status: string;
  readonly description?: string;
  readonly device?: string;
  readonly alarm?: string;
  readonly assignee?: string;
  readonly dueAt: number;
  readonly createdAt: number;
  readonly updatedAt: number;
  readonly notes: readonly { op: string; actor: string; ts: number; text: string }[];
  readonly sync: { readonly pending: number; readonly rejected: readonly { op: string; kind: string; reason: string }[] };
  readonly allowed?: readonly string[];
}

const CATEGORIES = ['elevator', 'electrical', 'plumbing', 'hvac', 'fire', 'security', 'general'] as const;
const CATEGORY_OF_SYSTEM: Record<string, string> = { elevator: 'elevator', power: 'electrical', lighting: 'electrical', water: 'plumbing', hvac: 'hvac', fire: 'fire', access: 'security', camera: 'security' };
/** What each operation needs the user to type. */
const OP_FIELD: Record<string, string | undefined> = { assign: 'assignee', hold: 'reason', resolve: 'resolution', cancel: 'reason', reopen: 'reason' };

function SyncMark(props: { wo: WorkOrder }) {
  const { t } = useI18n();
  const { wo } = props;
  return (
    <>
      {wo.sync.pending > 0 ? (
        <span class="badge warn" data-testid="wo-pending">
          ⏳ {t('wo.pending')}
        </span>
      ) : (
        <span class="badge ok" data-testid="wo-confirmed">
          ✓ {t('wo.confirmed')}
        </span>
      )}
      {wo.sync.rejected.map((r) => (
        <span class="badge bad">{t('wo.rejected', { reason: `${r.kind}: ${r.reason}` })}</span>
      ))}
    </>
  );
}

function CreateDialog(props: { initial: URLSearchParams; onClose: (created?: boolean) => void }) {
  const { t } = useI18n();
  const s = useLive('devices');
  const q = props.initial;
  const dev = q.get('device') ?? '';
  const [title, setTitle] = useState(q.get('title') ?? '');
  const [priority, setPriority] = useState(q.get('priority') ?? 'P3');
  const [device, setDevice] = useState(dev);
  const [category, setCategory] = useState(CATEGORY_OF_SYSTEM[s.devices.get(dev)?.system ?? ''] ?? 'general');
  const [description, setDescription] = useState('');
  const [error, setError] = useState<string | undefined>();
  const alarm = q.get('alarm') ?? undefined;
  const submit = async (e: Event) => {
    e.preventDefault();
    try {
      await api('./api/v1/work-orders', {
        method: 'POST',
        body: { title, priority, category, ...(device === '' ? {} : { device }), ...(alarm === undefined ? {} : { alarm }), ...(description === '' ? {} : { description }) },
      });
      props.onClose(true);
    } catch (err) {
      setError(t('wo.failed', { msg: err instanceof ApiError ? err.message : String(err) }));
    }
  };
  return (
    <Dialog title={t('wo.new')} onClose={() => props.onClose()}>
      <form onSubmit={submit} class="form-grid">
        <label for="wo-title">{t('wo.titleField')}</label>
        <input id="wo-title" required maxLength={200} value={title} onInput={(e) => setTitle(e.currentTarget.value)} />
        <label for="wo-priority">{t('wo.priority')}</label>
        <select id="wo-priority" value={priority} onChange={(e) => setPriority(e.currentTarget.value)}>
          {['P1', 'P2', 'P3', 'P4'].map((p) => (
            <option value={p}>{p}</option>
          ))}
        </select>
        <label for="wo-device">{t('wo.device')}</label>
        <select id="wo-device" value={device} onChange={(e) => setDevice(e.currentTarget.value)}>
          <option value="">{t('common.none')}</option>
          {[...s.devices.values()].map((d) => (
            <option value={d.id}>{d.name}</option>
          ))}
        </select>
        <label for="wo-category">{t('wo.category')}</label>
        <select id="wo-category" value={category} onChange={(e) => setCategory(e.currentTarget.value)}>
          {CATEGORIES.map((c) => (
            <option value={c}>{c}</option>
          ))}
        </select>
        {alarm === undefined ? null : (
          <>
            <span>{t('wo.alarm')}</span>
            <code>{alarm}</code>
          </>
        )}
        <label for="wo-description">{t('wo.note')}</label>
        <textarea id="wo-description" rows={3} value={description} onInput={(e) => setDescription(e.currentTarget.value)} />
        {error === undefined ? null : (
          <p class="error" role="alert">
            {error}
          </p>
        )}
        <div class="actions">
          <button type="button" class="btn" onClick={() => props.onClose()}>
            {t('wo.cancel')}
          </button>
          <button type="submit" class="btn primary" data-testid="wo-create">
            {t('wo.create')}
          </button>
        </div>
      </form>
    </Dialog>
  );
}

function Detail(props: { id: string; onClose: () => void; onChanged: () => void }) {
  const { t, lang } = useI18n();
  const [wo, setWo] = useState<WorkOrder | undefined>();
  const [op, setOp] = useState<string | undefined>();
  const [text, setText] = useState('');
  const [error, setError] = useState<string | undefined>();
  const load = () => api<WorkOrder>(`./api/v1/work-orders/${props.id}`).then(setWo, (e: unknown) => setError(String(e)));
  useEffect(() => void load(), [props.id]);
  const run = async (kind: string, data: Record<string, unknown>) => {
    try {
      await api(`./api/v1/work-orders/${props.id}/ops`, { method: 'POST', body: { op: kind, data } });
      setOp(undefined);
      setText('');
      setError(undefined);
      await load();
      props.onChanged();
    } catch (err) {
      setError(t('wo.failed', { msg: err instanceof ApiError ? err.message : String(err) }));
    }
  };
  return (
    <Dialog title={wo?.title ?? t('wo.details')} onClose={props.onClose}>
      {wo === undefined ? (
        <p>{t('common.loading')}</p>
      ) : (
        <>
          <p>
            <span class={`prio ${wo.priority.toLowerCase()}`}>{wo.priority}</span> {t(`wo.st.${wo.status}` as MessageKey)} · {wo.category}
            {wo.assignee === undefined ? null : ` · ${t('wo.assignee')}: ${wo.assignee}`} · {t('wo.due')}: {formatTime(wo.dueAt, lang, true)}
          </p>
          <p>
            <SyncMark wo={wo} />
          </p>
          {wo.description === undefined ? null : <p>{wo.description}</p>}
          {wo.notes.length === 0 ? null : (
            <>
              <h3>{t('wo.notes')}</h3>
              <ul class="notes">
                {wo.notes.map((n) => (
                  <li>
                    <small>
                      {formatTime(n.ts, lang, true)} {n.actor}
                    </small>{' '}
                    {n.text}
                  </li>
                ))}
              </ul>
            </>
          )}
          <form
            onSubmit={(e) => {
              e.preventDefault();
              if (op === undefined) return;
              const field = op === 'note' ? 'text' : OP_FIELD[op];
              void run(op, field === undefined ? {} : { [field]: text });
            }}
          >
            <div class="toolbar">
              {(wo.allowed ?? []).map((o) => (
                <button
                  type={OP_FIELD[o] === undefined ? 'submit' : 'button'}
                  class={op === o ? 'btn primary' : 'btn'}
                  disabled={!may('operator')}
                  onClick={() => setOp(o)}
                  data-op={o}
                >
                  {t(`wo.op.${o}` as MessageKey)}
                </button>
              ))}
              <button type="button" class={op === 'note' ? 'btn primary' : 'btn'} disabled={!may('operator')} onClick={() => setOp('note')}>
                {t('wo.addNote')}
              </button>
            </div>
            {op === 'note' || (op !== undefined && OP_FIELD[op] !== undefined) ? (
              <>
                <label for="wo-op-text">{op === 'note' ? t('wo.note') : op === 'assign' ? t('wo.assignee') : t('alarms.reason')}</label>
                <textarea id="wo-op-text" rows={2} required value={text} onInput={(e) => setText(e.currentTarget.value)} />
                <button type="submit" class="btn primary">
                  {t('common.save')}
                </button>
              </>
            ) : null}
          </form>
        </>
      )}
      {error === undefined ? null : (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      <div class="actions">
        <button type="button" class="btn" onClick={props.onClose}>
          {t('common.close')}
        </button>
      </div>
    </Dialog>
  );
}

export function WorkOrdersPage(props: { query: URLSearchParams }) {
  const { t, lang } = useI18n();
  const s = useLive('devices', 'meta', 'events');
  const [items, setItems] = useState<WorkOrder[] | null | undefined>();
  const [creating, setCreating] = useState(props.query.get('new') === '1');
  const [open, setOpen] = useState<string | undefined>();
  const load = () =>
    api<{ items: WorkOrder[] }>('./api/v1/work-orders?limit=200').then(
      (r) => setItems(r.items),
      (e: unknown) => setItems(e instanceof ApiError && e.status === 404 ? null : []),
    );
  useEffect(() => {
    setCreating(props.query.get('new') === '1');
  }, [props.query.toString()]);
  // Reload when the sync state moves (a confirmation may have come) or an event arrives.
  useEffect(() => void load(), [s.sync?.backlog, s.sync?.online, s.events[0]?.id]);
  useEffect(() => {
    const timer = setInterval(() => void load(), 5000);
    return () => clearInterval(timer);
  }, []);
  if (items === undefined) return <p>{t('common.loading')}</p>;
  if (items === null)
    return (
      <section>
        <h1>{t('wo.title')}</h1>
        <p>{t('wo.unavailable')}</p>
      </section>
    );
  return (
    <section aria-labelledby="wo-title-h">
      <div class="page-head">
        <h1 id="wo-title-h">{t('wo.title')}</h1>
        <button type="button" class="btn primary" disabled={!may('operator')} onClick={() => setCreating(true)}>
          {t('wo.new')}
        </button>
      </div>
      {items.length === 0 ? (
        <p>{t('wo.none')}</p>
      ) : (
        <div class="table-wrap">
          <table class="work-orders">
            <thead>
              <tr>
                <th scope="col">{t('wo.priority')}</th>
                <th scope="col">{t('wo.titleField')}</th>
                <th scope="col">{t('wo.status')}</th>
                <th scope="col">{t('wo.device')}</th>
                <th scope="col">{t('wo.due')}</th>
                <th scope="col">{t('wo.created')}</th>
                <th scope="col">{t('sync.title')}</th>
              </tr>
            </thead>
            <tbody>
              {items.map((wo) => (
                <tr key={wo.id} data-wo={wo.id}>
                  <td>
                    <span class={`prio ${wo.priority.toLowerCase()}`}>{wo.priority}</span>
                  </td>
                  <th scope="row">
                    <button type="button" class="link" onClick={() => setOpen(wo.id)}>
                      {wo.title}
                    </button>
                  </th>
                  <td>{t(`wo.st.${wo.status}` as MessageKey)}</td>
                  <td>{wo.device === undefined ? '' : (live.devices.get(wo.device)?.name ?? wo.device)}</td>
                  <td>{formatTime(wo.dueAt, lang, true)}</td>
                  <td>{formatTime(wo.createdAt, lang, true)}</td>
                  <td>
                    <SyncMark wo={wo} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {creating ? (
        <CreateDialog
          initial={props.query}
          onClose={(created) => {
            setCreating(false);
            if (props.query.get('new') === '1') history.replaceState(null, '', '#/work-orders');
            if (created === true) void load();
          }}
        />
      ) : null}
      {open === undefined ? null : <Detail id={open} onClose={() => setOpen(undefined)} onChanged={() => void load()} />}
    </section>
  );
}
