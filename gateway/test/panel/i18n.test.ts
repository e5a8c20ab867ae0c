/**
 * The panel speaks zh-CN and English with every string translated: both dictionaries
 * have the same keys, no empty text, the same `{placeholders}`, and the Chinese one is
 * actually Chinese (not English left in place).
 */
import t from 'tap';
import { en } from '../../panel/src/i18n/en.js';
import { zhCN } from '../../panel/src/i18n/zh-CN.js';

const placeholders = (s: string) => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();

t.test('both dictionaries have the same keys', async (t) => {
  t.same(Object.keys(zhCN).sort(), Object.keys(en).sort());
});

t.test('every string is there, with the same placeholders', async (t) => {
  for (const [key, text] of Object.entries(en)) {
    const zh = (zhCN as Record<string, string>)[key] ?? '';
    t.ok(text.trim().length > 0 && zh.trim().length > 0, `${key} is not empty`);
    t.same(placeholders(zh), placeholders(text), `${key} has the same placeholders`);
  }
});

t.test('the Chinese dictionary is translated', async (t) => {
  // Strings that are the same in both languages on purpose: symbols, and the name of the other language.
  const same = Object.entries(en).filter(([k, v]) => (zhCN as Record<string, string>)[k] === v && !/^[\s\p{P}\p{S}—…]*$/u.test(v));
  t.same(same, [], 'no English left in the Chinese dictionary');
  const han = Object.values(zhCN).filter((s) => /\p{Script=Han}/u.test(s)).length;
  t.ok(han / Object.keys(zhCN).length > 0.9, 'nearly every Chinese string has Chinese characters');
});
