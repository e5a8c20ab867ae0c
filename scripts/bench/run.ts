/**
 * `npm run bench -- NAME [--quick]`: runs scripts/bench/NAME.ts, prints its table, and as
 * the last line one JSON object of its figures, so that scripts can compare runs.
 * A benchmark module exports `run(options) → { table, figures }`.
 */
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

export interface BenchOptions {
  /** A short version, under a minute. */
  readonly quick: boolean;
  /** Extra `--key value` arguments. */
  readonly args: Readonly<Record<string, string>>;
}

export interface BenchResult {
  /** Rows of a readable table; the first row is the header. */
  readonly table: readonly (readonly (string | number)[])[];
  /** The figures, flat, for the JSON line (`bench` is added). */
  readonly figures: Readonly<Record<string, number | string | boolean>>;
}

const here = path.dirname(fileURLToPath(import.meta.url));

export function formatTable(rows: readonly (readonly (string | number)[])[]): string {
  const cells = rows.map((r) => r.map((c) => (typeof c === 'number' ? (Number.isInteger(c) ? String(c) : c.toFixed(2)) : c)));
  const widths = cells[0]?.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length))) ?? [];
  const line = (r: string[]) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  const out = cells.map(line);
  if (out.length > 1) out.splice(1, 0, widths.map((w) => '-'.repeat(w)).join('  '));
  return out.join('\n');
}

export async function benchCommand(argv: string[]): Promise<number> {
  const names = readdirSync(here).filter((f) => f.endsWith('.ts') && f !== 'run.ts').map((f) => f.replace(/\.ts$/, ''));
  const [name, ...rest] = argv;
  if (name === undefined || !names.includes(name)) {
    process.stderr.write(`Usage: npm run bench -- NAME [--quick]\nBenchmarks: ${names.join(', ')}\n`);
    return 1;
  }
  const args: Record<string, string> = {};
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i]!;
    if (a.startsWith('--') && a !== '--quick') args[a.slice(2)] = rest[i + 1] !== undefined && !rest[i + 1]!.startsWith('--') ? rest[++i]! : 'true';
  }
  const mod = (await import(`./${name}.js`)) as { run(options: BenchOptions): Promise<BenchResult> };
  const result = await mod.run({ quick: rest.includes('--quick'), args });
  process.stdout.write(`${formatTable(result.table)}\n`);
  process.stdout.write(`${JSON.stringify({ bench: name, ...result.figures })}\n`);
  return 0;
}
