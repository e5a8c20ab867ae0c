#!/usr/bin/env -S node --max-semi-space-size=8
// The `steward` command; `bin/cli.ts` dispatches the sub-commands.
//
// --max-semi-space-size=8 (MiB): V8's young generation at most 2 × 8 MiB instead of Node 20's
// 2 × 16 MiB, which a gateway polling 10,000 points a second fills and keeps — ~16 MB less
// RSS, CPU per point at 1 s polling and at saturation within the noise (issue 3,
// docs/benchmarks.md "memory"). A V8 heap size is fixed when the process starts (not
// settable from here with v8.setFlagsFromString), so it is on this line and in the npm
// scripts; `node bin/steward.js …` without it runs with Node's default. `env -S` needs GNU
// coreutils ≥ 8.30 or a BSD env (not BusyBox: there, start `node --max-semi-space-size=8 bin/steward.js`).
//
// The sources are TypeScript. `npm ci` (prepare) and `npm run build` compile them with
// bin/build.js; while that build matches the sources it is what runs, in plain Node — the
// tsx loader's extra thread and transform cost ~40–70 MB of RSS (issue 3, docs/benchmarks.md
// "poll"). Without a build, or once a source has changed since, the sources run through
// tsx's loader as they always did, so an edit takes effect at once and nothing needs
// rebuilding by hand. STEWARD_FROM_SOURCES=1 runs the sources through tsx regardless.
import { freshBuild } from './build.js';

const compiled = process.env.STEWARD_FROM_SOURCES === '1' ? undefined : freshBuild();
let main;
if (compiled !== undefined) {
  ({ main } = await import(compiled));
} else {
  const { register } = await import('tsx/esm/api');
  register();
  ({ main } = await import('./cli.ts'));
}
const code = await main(process.argv.slice(2));
if (typeof code === 'number') process.exitCode = code;
