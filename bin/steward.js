#!/usr/bin/env node
// The `steward` command; `bin/cli.ts` dispatches the sub-commands.
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
