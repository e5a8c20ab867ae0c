/**
 * Small SVG charts for the dashboard's KPIs (no chart library: a few hundred bytes each,
 * nothing to load from outside). Every chart carries its numbers as a visually hidden
 * table for screen readers, and a <title> per point for a mouse.
 */
import type { ComponentChildren } from 'preact';

export interface Series {
  readonly name: string;
  /** CSS colour; pairs of series use the palette's accent and a lighter tint. */
  readonly color: string;
  readonly values: readonly (number | null)[];
}

const W = 600;
const H = 200;
const PAD = { l: 70, r: 14, t: 12, b: 28 };

function DataTable(props: { labels: readonly string[]; series: readonly Series[]; format: (v: number) => string }) {
  return (
    <table class="sr-only">
      <thead>
        <tr>
          <td />
          {props.series.map((s) => (
            <th scope="col">{s.name}</th>
          ))}
        </tr>
      </thead>
      <tbody>
        {props.labels.map((l, i) => (
          <tr>
            <th scope="row">{l}</th>
            {props.series.map((s) => (
              <td>{s.values[i] == null ? '—' : props.format(s.values[i]!)}</td>
            ))}
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** Horizontal grid lines with their values on the left. */
function YGrid(props: { ticks: readonly number[]; y: (v: number) => number; format: (v: number) => string }) {
  return (
    <>
      {props.ticks.map((v) => (
        <g>
          <line class="grid" x1={PAD.l} x2={W - PAD.r} y1={props.y(v)} y2={props.y(v)} />
          <text class="tick" x={PAD.l - 6} y={props.y(v) + 4} text-anchor="end">
            {props.format(v)}
          </text>
        </g>
      ))}
    </>
  );
}

function Frame(props: { title: string; series: readonly Series[]; kind: string; empty: boolean; emptyText: string; children: ComponentChildren }) {
  return (
    <figure class={`card chart ${props.kind}`} data-chart={props.title}>
      <figcaption>
        <span>{props.title}</span>
        {props.series.length > 1 ? (
          <span class="legend">
            {props.series.map((s) => (
              <span>
                <i style={{ background: s.color }} />
                {s.name}
              </span>
            ))}
          </span>
        ) : null}
      </figcaption>
      {props.empty ? <p class="muted empty">{props.emptyText}</p> : props.children}
    </figure>
  );
}

/** Lines over a shared x axis (days); gaps where a value is null. */
export function LineChart(props: { title: string; labels: readonly string[]; series: readonly Series[]; format: (v: number) => string; yMax?: number; emptyText: string }) {
  const { labels, series, format } = props;
  const all = series.flatMap((s) => s.values.filter((v): v is number => v !== null));
  const max = props.yMax ?? Math.max(1e-9, ...all) * 1.1;
  const n = Math.max(1, labels.length - 1);
  const x = (i: number) => PAD.l + (i / n) * (W - PAD.l - PAD.r);
  const y = (v: number) => PAD.t + (1 - v / max) * (H - PAD.t - PAD.b);
  const ticks = [0, max / 2, max];
  const xTicks = labels.length <= 1 ? [0] : [0, Math.floor((labels.length - 1) / 2), labels.length - 1];
  return (
    <Frame title={props.title} series={series} kind="line" empty={all.length === 0} emptyText={props.emptyText}>
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-label={props.title}>
        <YGrid ticks={ticks} y={y} format={format} />
        {xTicks.map((i) => (
          <text class="tick" x={x(i)} y={H - 6} text-anchor={i === 0 ? 'start' : i === labels.length - 1 ? 'end' : 'middle'}>
            {labels[i] ?? ''}
          </text>
        ))}
        {series.map((s) => {
          let d = '';
          let pen = false;
          s.values.forEach((v, i) => {
            if (v === null) pen = false;
            else {
              d += `${pen ? 'L' : 'M'}${x(i).toFixed(1)},${y(v).toFixed(1)}`;
              pen = true;
            }
          });
          return (
            <g>
              <path d={d} fill="none" stroke={s.color} stroke-width="2.5" stroke-linejoin="round" />
              {s.values.map((v, i) =>
                v === null ? null : (
                  <circle cx={x(i)} cy={y(v)} r="3.5" fill={s.color}>
                    <title>{`${labels[i] ?? ''} ${s.name}: ${format(v)}`}</title>
                  </circle>
                ),
              )}
            </g>
          );
        })}
      </svg>
      <DataTable labels={labels} series={series} format={format} />
    </Frame>
  );
}

/** Vertical bars, one per label (e.g. per day). */
export function BarChart(props: { title: string; labels: readonly string[]; values: readonly (number | null)[]; format: (v: number) => string; color?: string; emptyText: string }) {
  const { labels, values, format } = props;
  const nums = values.filter((v): v is number => v !== null);
  const max = Math.max(1e-9, ...nums) * 1.1;
  const n = Math.max(1, labels.length);
  const slot = (W - PAD.l - PAD.r) / n;
  const y = (v: number) => PAD.t + (1 - v / max) * (H - PAD.t - PAD.b);
  const series: Series[] = [{ name: props.title, color: props.color ?? 'var(--accent)', values }];
  const xTicks = labels.length <= 1 ? [0] : [0, Math.floor((labels.length - 1) / 2), labels.length - 1];
  return (
    <Frame title={props.title} series={series} kind="bars" empty={nums.length === 0 || nums.every((v) => v === 0)} emptyText={props.emptyText}>
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-label={props.title}>
        <YGrid ticks={[0, max / 2, max]} y={y} format={format} />
        {values.map((v, i) =>
          v === null || v <= 0 ? null : (
            <rect x={PAD.l + i * slot + slot * 0.15} width={slot * 0.7} y={y(v)} height={Math.max(1, H - PAD.b - y(v))} rx="2" fill={series[0]!.color}>
              <title>{`${labels[i] ?? ''}: ${format(v)}`}</title>
            </rect>
          ),
        )}
        {xTicks.map((i) => (
          <text class="tick" x={PAD.l + i * slot + slot / 2} y={H - 6} text-anchor={i === 0 ? 'start' : i === labels.length - 1 ? 'end' : 'middle'}>
            {labels[i] ?? ''}
          </text>
        ))}
      </svg>
      <DataTable labels={labels} series={series} format={format} />
    </Frame>
  );
}

/** Horizontal bars, one per named row (sites, devices, systems), with the value written out. */
export function RankChart(props: { title: string; rows: readonly { label: string; value: number; href?: string; tone?: 'bad' | 'warn' | 'ok' }[]; format: (v: number) => string; max?: number; emptyText: string }) {
  const max = props.max ?? Math.max(1e-9, ...props.rows.map((r) => r.value));
  return (
    <Frame title={props.title} series={[]} kind="ranked" empty={props.rows.length === 0} emptyText={props.emptyText}>
      <ol class="rank">
        {props.rows.map((r) => (
          <li class={r.tone ?? ''}>
            {r.href === undefined ? <span class="label">{r.label}</span> : <a class="label" href={r.href}>{r.label}</a>}
            <span class="track">
              <span class="fill" style={{ width: `${Math.max(0, Math.min(1, r.value / max)) * 100}%` }} />
            </span>
            <span class="value">{props.format(r.value)}</span>
          </li>
        ))}
      </ol>
    </Frame>
  );
}
