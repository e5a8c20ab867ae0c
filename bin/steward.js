#!/usr/bin/env node
// The `steward` command. The sources are TypeScript, run through tsx's loader so that a
// fresh `npm ci` needs no build step; `bin/cli.ts` dispatches the sub-commands.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('./cli.ts');
const code = await main(process.argv.slice(2));
if (typeof code === 'number') process.exitCode = code;
