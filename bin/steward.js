#!/usr/bin/env node
// The `steward` command; `bin/cli.ts` dispatches the sub-commands.
//
// Not set here: --max-semi-space-size=8 (V8's young generation at most 2 × 8 MiB instead of
// Node 20's 2 × 16) saves ~16 MB of RSS polling 10,000 points, but cost 0.9–2.3 ms more CPU per
// 1,000 points at the nominal 1 s poll in a quiet window (docs/benchmarks.md "memory,
// continued"). It is a V8 heap size, fixed at process start (v8.setFlagsFromString from
// here does not resize it): to trade CPU for memory, start `node --max-semi-space-size=8
// bin/steward.js …` or set it in NODE_OPTIONS. `bench memory` passes this line's node flags
// (`#!/usr/bin/env -S node --flag …`) to its children, if any are ever put here.
//
// The sources are TypeScript. `npm ci` (prepare) and `npm run build` compile them with
// bin/build.js; while that build matches the sources it is what runs, in plain Node — the
// tsx loader's extra thread and transform cost ~40–70 MB of RSS (issue 3, docs/benchmarks.md
// "poll"). Without a build, or once a source has changed since, the sources run through
// tsx's loader as they always did, so an edit takes effect at once and nothing needs
// rebuilding by hand. STEWARD_FROM_SOURCES=1 runs the sources through tsx regardless.
import { builtOnce, freshBuild } from './build.js';

const compiled = process.env.STEWARD_FROM_SOURCES === '1' ? undefined : freshBuild();
let main;
if (compiled !== undefined) {
  ({ main } = await import(compiled));
} else {
  // A build that no longer matches the sources is easy to miss: a benchmark then measures
  // tsx's loader too (~40–70 MB of RSS, and its transform's CPU). `bench` says so, once, on
  // stderr (the other commands keep their stderr to themselves: tests read it).
  if (process.argv[2] === 'bench' && process.env.STEWARD_FROM_SOURCES !== '1' && builtOnce()) {
    process.stderr.write('steward: sources changed since the last `npm run build`: running them through tsx (run `npm run build` to use the compiled copy)\n');
  }
  const { register } = await import('tsx/esm/api');
  register();
  ({ main } = await import('./cli.ts'));
}
const code = await main(process.argv.slice(2));
if (typeof code === 'number') process.exitCode = code;
