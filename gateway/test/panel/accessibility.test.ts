/**
 * Accessibility basics that do not need a browser: the panel's colours meet WCAG 2.2
 * contrast (§1.4.3: 4.5:1 for text; §1.4.11: 3:1 for the state bars and focus ring) on
 * the backgrounds they are used on, read from the stylesheet itself. Keyboard use and
 * labels are checked in Chromium by control-room.test.ts.
 */
import { readFileSync } from 'node:fs';
import t from 'tap';

const css = readFileSync(new URL('../../panel/src/styles.css', import.meta.url), 'utf8');
const vars = Object.fromEntries([...css.matchAll(/--([a-z0-9-]+):\s*(#[0-9a-f]{6})/gi)].map((m) => [m[1]!, m[2]!]));

function luminance(hex: string): number {
  const [r, g, b] = [1, 3, 5].map((i) => {
    const c = parseInt(hex.slice(i, i + 2), 16) / 255;
    return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  });
  return 0.2126 * r! + 0.7152 * g! + 0.0722 * b!;
}

/** WCAG 2.2 contrast ratio. */
function contrast(a: string, b: string): number {
  const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x);
  return (hi! + 0.05) / (lo! + 0.05);
}

const color = (v: string) => (v.startsWith('#') ? v : vars[v]!);

t.test('text colours on their backgrounds: at least 4.5:1', async (t) => {
  const pairs: [string, string][] = [
    ['fg', 'bg'],
    ['fg', 'panel'],
    ['fg', 'panel-2'],
    ['muted', 'bg'],
    ['muted', 'panel'],
    ['accent', 'bg'],
    ['accent', 'panel'],
    ['ok', 'panel'],
    ['fg', 'bad-bg'],
    ['fg', 'ok-bg'],
    ['fg', 'warn-bg'],
    ['fg', 'stale-bg'],
    ['fg', 'offline-bg'],
    ['#ffb3b3', 'bad-bg'], // the alarm tile's state word
    ['#d9ccf5', 'stale-bg'],
    ['#1a0000', 'bad'], // text on the P1 banner and priority badges
    ['#1a0d00', '#ff9f43'],
    ['#1a1400', 'warn'],
    ['#ffffff', '#1f6feb'], // primary buttons
  ];
  for (const [fg, bg] of pairs) {
    const ratio = contrast(color(fg), color(bg));
    t.ok(ratio >= 4.5, `${fg} on ${bg}: ${ratio.toFixed(2)}:1`);
  }
});

t.test('state bars and the focus ring stand out: at least 3:1', async (t) => {
  for (const s of ['ok', 'bad', 'warn', 'stale', 'offline', 'focus', 'accent']) {
    const ratio = contrast(color(s), color('panel'));
    t.ok(ratio >= 3, `${s} on panel: ${ratio.toFixed(2)}:1`);
  }
});
