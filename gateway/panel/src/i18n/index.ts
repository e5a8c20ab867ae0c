/** The panel's language: a dictionary per language, the choice kept in localStorage. */
import { en, type Dictionary, type MessageKey } from './en.js';
import { zhCN } from './zh-CN.js';

export type Lang = 'zh-CN' | 'en';
export const dictionaries: Readonly<Record<Lang, Dictionary>> = { 'zh-CN': zhCN, en };

/** Fills `{name}` placeholders. */
export function format(template: string, vars?: Readonly<Record<string, string | number>>): string {
  if (vars === undefined) return template;
  return template.replace(/\{(\w+)\}/g, (m, k: string) => (vars[k] === undefined ? m : String(vars[k])));
}

export function translator(lang: Lang): (key: MessageKey, vars?: Readonly<Record<string, string | number>>) => string {
  const dict = dictionaries[lang];
  return (key, vars) => format(dict[key], vars);
}

export type { MessageKey };
