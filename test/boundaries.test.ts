/**
 * Dependencies point one way (DESIGN.md "Layout", CONVENTIONS §7). This test reads every
 * TypeScript source, resolves its relative imports, and fails on one that crosses a line.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Which areas each area may import from (besides itself and npm packages). */
const allowed: Record<string, readonly string[]> = {
  'gateway/src/core': [],
  'gateway/src/drivers': ['gateway/src/core'],
  'gateway/src/poller': ['gateway/src/core', 'gateway/src/drivers/driver.ts'],
  'gateway/src/store': ['gateway/src/core', 'protocol'],
  'gateway/src/alarms': ['gateway/src/core', 'gateway/src/store', 'protocol'],
  'gateway/src/ml': ['gateway/src/core'],
  'gateway/src/broker': ['gateway/src/core'],
  'gateway/src/flows': ['gateway/src/core'],
  'gateway/src/sync': ['gateway/src/core', 'gateway/src/store', 'protocol'],
  'gateway/src/workorders': ['gateway/src/core', 'gateway/src/store', 'protocol'],
  'gateway/src/api': ['gateway/src/core', 'gateway/src/store', 'gateway/src/poller', 'gateway/src/sync', 'gateway/src/workorders', 'protocol'],
  // Top floor: main.ts, config.ts and cli.ts wire every gateway part, never the cloud.
  'gateway/src': ['gateway/src', 'protocol'],
  'gateway/test': ['gateway', 'protocol', 'scripts', 'cloud', 'test/support'],
  cloud: ['protocol'],
  protocol: [],
};

function areaOf(rel: string): string | undefined {
  return Object.keys(allowed)
    .filter((a) => rel === a || rel.startsWith(`${a}/`))
    .sort((a, b) => b.length - a.length)[0];
}

function* sources(dir: string): Generator<string> {
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name.startsWith('.') || name === 'data') continue;
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) yield* sources(full);
    else if (name.endsWith('.ts')) yield full;
  }
}

const importRe = /(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g;

export function violations(): string[] {
  const out: string[] = [];
  for (const top of ['gateway', 'cloud', 'protocol']) {
    for (const file of sources(path.join(root, top))) {
      const rel = path.relative(root, file).split(path.sep).join('/');
      const area = areaOf(rel);
      if (area === undefined) continue;
      const text = readFileSync(file, 'utf8');
      for (const m of text.matchAll(importRe)) {
        const spec = m[1] ?? m[2];
        if (spec === undefined || !spec.startsWith('.')) continue;
        const target = path.relative(root, path.resolve(path.dirname(file), spec)).split(path.sep).join('/').replace(/\.js$/, '.ts');
        if (target === area || target.startsWith(`${area}/`)) continue;
        const ok = allowed[area]!.some((a) => target === a || target.startsWith(`${a}/`));
        if (!ok) out.push(`${rel} imports ${spec} (${target}): ${area} may import only ${allowed[area]!.join(', ') || 'itself'}`);
      }
    }
  }
  return out;
}

t.test('no import crosses the one-way boundaries of the design', async (t) => {
  t.same(violations(), []);
});

t.test('the check catches a crossing', async (t) => {
  // The rule table itself: a driver importing the store, or the gateway importing the cloud, is refused.
  const driverArea = areaOf('gateway/src/drivers/modbus/driver.ts')!;
  t.equal(driverArea, 'gateway/src/drivers');
  t.notOk(allowed[driverArea]!.some((a) => 'gateway/src/store/store.ts'.startsWith(a)), 'drivers may not import the store');
  t.notOk(allowed[areaOf('gateway/src/main.ts')!]!.some((a) => 'cloud/src/app.ts'.startsWith(a)), 'the gateway may not import the cloud');
  t.notOk(allowed[areaOf('cloud/src/app.ts')!]!.some((a) => 'gateway/src/core/errors.ts'.startsWith(a)), 'the cloud may not import the gateway');
  t.notOk(allowed[areaOf('gateway/src/store/store.ts')!]!.some((a) => 'gateway/src/drivers/driver.ts'.startsWith(a)), 'the store may not import drivers');
  t.notOk(allowed[areaOf('gateway/src/sync/uplink.ts')!]!.some((a) => 'gateway/src/poller/poller.ts'.startsWith(a)), 'sync reads only the store');
});
