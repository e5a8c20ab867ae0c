/** Formatting of values, times and durations in the panel's language. */
import type { Lang } from '../i18n/index.js';
import type { Value } from './api.js';

export function formatValue(v: Value | null | undefined, lang: Lang): string {
  if (v === null || v === undefined) return '—';
  if (typeof v === 'number') return Number.isInteger(v) ? v.toLocaleString(lang) : v.toLocaleString(lang, { maximumFractionDigits: 3 });
  if (typeof v === 'boolean') return v ? (lang === 'en' ? 'on' : '开') : lang === 'en' ? 'off' : '关';
  return v;
}

export function formatTime(ts: number | null | undefined, lang: Lang, withDate = false): string {
  if (ts === null || ts === undefined) return '—';
  const d = new Date(ts);
  const sameDay = new Date().toDateString() === d.toDateString();
  return d.toLocaleString(lang, {
    ...(withDate || !sameDay ? { month: '2-digit', day: '2-digit' } : {}),
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
    hour12: false,
  });
}

/** Duration keys of the dictionaries. */
export function durationParts(ms: number): { key: 'time.s' | 'time.m' | 'time.h' | 'time.d'; n: number } {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return { key: 'time.s', n: s };
  if (s < 3600) return { key: 'time.m', n: Math.floor(s / 60) };
  if (s < 86400) return { key: 'time.h', n: Math.floor(s / 3600) };
  return { key: 'time.d', n: Math.floor(s / 86400) };
}
