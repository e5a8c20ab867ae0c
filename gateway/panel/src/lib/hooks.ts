/** Preact hooks over the live state and the language. */
import { createContext } from 'preact';
import { useContext, useEffect, useState } from 'preact/hooks';
import { translator, type Lang } from '../i18n/index.js';
import { live, type Topic } from './live.js';

/** Re-renders the component when one of the topics changes (at most once per frame). */
export function useLive(...topics: Topic[]): typeof live {
  const [, setCount] = useState(0);
  useEffect(() => {
    const bump = (): void => setCount((n) => n + 1);
    const offs = topics.map((t) => live.subscribe(t, bump));
    return () => offs.forEach((off) => off());
  }, [topics.join()]);
  return live;
}

export interface I18n {
  readonly lang: Lang;
  readonly t: ReturnType<typeof translator>;
  setLang(lang: Lang): void;
}

export const I18nContext = createContext<I18n>({ lang: 'zh-CN', t: translator('zh-CN'), setLang: () => undefined });

export function useI18n(): I18n {
  return useContext(I18nContext);
}
