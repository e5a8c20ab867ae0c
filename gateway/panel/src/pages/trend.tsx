/**
 * A point's trend with uPlot (small, fast canvas charts: 100k points draw in a few ms):
 * ranges from 1 hour to 30 days — raw samples up to 6 hours, 1-minute roll-ups (avg with
 * min and max) beyond, as GET /api/v1/points/:id/history decides — drag to zoom,
 * double-click to reset; the last hour keeps growing with the live readings.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import uPlot from 'uplot';
import { api, type Value } from '../lib/api.js';
import { useI18n } from '../lib/hooks.js';
import { live } from '../lib/live.js';

const RANGES = [
  ['trend.1h', 3600_000],
  ['trend.6h', 6 * 3600_000],
  ['trend.24h', 24 * 3600_000],
  ['trend.7d', 7 * 86400_000],
  ['trend.30d', 30 * 86400_000],
] as const;

interface History {
  readonly unit: string | null;
  readonly resolution: 'raw' | 'minute';
  readonly samples?: readonly { ts: number; value: Value | null }[];
  readonly rollups?: readonly { minute: number; min: number; max: number; avg: number }[];
}

function num(v: Value | null): number | null {
  return typeof v === 'number' ? v : typeof v === 'boolean' ? (v ? 1 : 0) : null;
}

export function Trend(props: { point: string; label: string; onClose: () => void }) {
  const { t } = useI18n();
  const [range, setRange] = useState<number>(3600_000);
  const [state, setState] = useState<'loading' | 'empty' | 'ok' | string>('loading');
  const [resolution, setResolution] = useState<'raw' | 'minute'>('raw');
  const box = useRef<HTMLDivElement>(null);

  useEffect(() => {
    let plot: uPlot | undefined;
    let cancelled = false;
    let offLive: (() => void) | undefined;
    setState('loading');
    const to = Date.now();
    const from = to - range;
    api<History>(`./api/v1/points/${encodeURIComponent(props.point)}/history?from=${from}&to=${to}&resolution=auto&limit=100000`)
      .then((h) => {
        if (cancelled || box.current === null) return;
        setResolution(h.resolution);
        const width = Math.max(280, box.current.clientWidth);
        const height = Math.min(360, Math.max(200, Math.round(width / 3)));
        const stroke = getComputedStyle(document.documentElement).getPropertyValue('--fg').trim() || '#ddd';
        const axis = { stroke, grid: { stroke: 'rgba(255,255,255,0.08)' }, ticks: { stroke: 'rgba(255,255,255,0.2)' } };
        const unit = h.unit ?? '';
        let data: uPlot.AlignedData;
        let series: uPlot.Series[];
        if (h.resolution === 'raw') {
          const s = h.samples ?? [];
          data = [s.map((x) => x.ts / 1000), s.map((x) => num(x.value))];
          series = [{}, { label: `${props.label} ${unit}`, stroke: '#4ea1ff', width: 1.5, spanGaps: false }];
        } else {
          const r = h.rollups ?? [];
          data = [r.map((x) => x.minute / 1000), r.map((x) => x.avg), r.map((x) => x.min), r.map((x) => x.max)];
          series = [
            {},
            { label: `${t('trend.avg')} ${unit}`, stroke: '#4ea1ff', width: 1.5 },
            { label: t('trend.min'), stroke: 'rgba(78,161,255,0.45)', width: 1 },
            { label: t('trend.max'), stroke: 'rgba(255,170,80,0.6)', width: 1 },
          ];
        }
        if ((data[0] as number[]).length === 0) {
          setState('empty');
          return;
        }
        setState('ok');
        // uPlot's default cursor: drag selects a range and zooms; double-click resets.
        plot = new uPlot({ width, height, series, axes: [axis, axis], scales: { x: { time: true } }, cursor: { drag: { x: true, y: false } } }, data, box.current);
        if (h.resolution === 'raw') {
          const xs = data[0] as number[];
          const ys = data[1] as (number | null)[];
          offLive = live.onPoint(props.point, (ts, v) => {
            xs.push(ts / 1000);
            ys.push(num(v));
            plot?.setData([xs, ys], false);
            plot?.setScale('x', { min: xs[0]!, max: ts / 1000 });
          });
        }
      })
      .catch((e: unknown) => !cancelled && setState(e instanceof Error ? e.message : String(e)));
    return () => {
      cancelled = true;
      offLive?.();
      plot?.destroy();
    };
  }, [props.point, range]);

  return (
    <section class="card trend" aria-labelledby="trend-title">
      <div class="page-head">
        <h2 id="trend-title">{t('trend.title', { point: props.label })}</h2>
        <button type="button" class="btn ghost" onClick={props.onClose}>
          {t('trend.close')}
        </button>
      </div>
      <div class="toolbar" role="group" aria-label={t('trend.range')}>
        {RANGES.map(([key, ms]) => (
          <button type="button" class={range === ms ? 'btn primary' : 'btn'} aria-pressed={range === ms} onClick={() => setRange(ms)}>
            {t(key)}
          </button>
        ))}
        <small class="muted">
          {t(resolution === 'raw' ? 'trend.raw' : 'trend.minute')} · {t('trend.zoomHint')}
        </small>
      </div>
      {state === 'loading' ? <p>{t('trend.loading')}</p> : state === 'empty' ? <p>{t('trend.empty')}</p> : state !== 'ok' ? <p class="error">{t('common.error', { msg: state })}</p> : null}
      <div ref={box} class="chart" data-testid="trend-chart" />
    </section>
  );
}
