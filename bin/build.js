// The compiled copy of Steward's TypeScript that `bin/steward.js` runs when it is up to date
// (issue 3: the tsx loader costs ~40 MB of RSS on Node 20, and its transform more).
//
// `node bin/build.js` (run by `npm run build` and `npm ci`'s prepare) transpiles every .ts
// of bin/, gateway/src/, cloud/src/, protocol/ and scripts/ (not the tests) one file to one
// file with the esbuild that tsx itself uses, into node_modules/.cache/steward/, beside a
// fingerprint of the sources it was made from (path, size, mtime of each). `freshBuild()`
// gives the compiled cli.js only while the sources still match that fingerprint: a source
// edited, added or removed since, and the CLI runs the sources through tsx as before.
//
// The sources find their files next to them (`new URL('../../models', import.meta.url)`):
// in the compiled copy `import.meta.url` is the URL of the source file, so every such path
// means what it means under tsx. `import.meta.resolve()` still resolves next to the compiled
// file (the ML worker uses it to start the compiled worker).
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { performance } from 'node:perf_hooks';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
// The compiled copy lives in <root>/node_modules/.cache/steward/: `npm ci` starts it afresh, git never sees it.
const SOURCE_DIRS = ['bin', 'gateway/src', 'cloud/src', 'protocol', 'scripts'];
const SKIP = new Set(['node_modules', 'test', 'data', 'dist']);

/** The .ts sources the build compiles, relative to the root, sorted. */
function sources(root) {
  const out = [];
  const walk = (rel) => {
    for (const e of readdirSync(path.join(root, rel), { withFileTypes: true })) {
      if (e.name.startsWith('.') || SKIP.has(e.name)) continue;
      const r = `${rel}/${e.name}`;
      if (e.isDirectory()) walk(r);
      else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) out.push(r);
    }
  };
  for (const d of SOURCE_DIRS) if (existsSync(path.join(root, d))) walk(d);
  return out.sort();
}

/** A hash of every source's path, size and mtime: any edit, addition or removal changes it. */
export function fingerprint(root = ROOT, files = sources(root)) {
  const h = createHash('sha256');
  for (const f of files) {
    const s = statSync(path.join(root, f));
    h.update(`${f}\0${s.size}\0${s.mtimeMs}\n`);
  }
  return h.digest('hex');
}

/**
 * The URL of the compiled cli.js when the build matches the sources as they are now,
 * else undefined (no build, or a source changed since: run the sources through tsx).
 */
export function freshBuild(root = ROOT) {
  const outDir = path.join(root, 'node_modules', '.cache', 'steward');
  try {
    const stamp = JSON.parse(readFileSync(path.join(outDir, 'fingerprint.json'), 'utf8'));
    if (stamp.fingerprint !== fingerprint(root)) return undefined;
    return pathToFileURL(path.join(outDir, 'bin', 'cli.js')).href;
  } catch {
    return undefined;
  }
}

/**
 * TypeBox's entry points the compiled copy imports from one bundle (`vendor/`) instead of
 * TypeBox's own ~700 ES modules, and the bundle's file for each. Loaded one module at a
 * time those cost ~26 MB of RSS in a process that imports them (each module's source, its
 * compiled code and the loader's records; 8.1 MB of V8 heap), bundled ~5 MB (3.9 MB of
 * heap): issue 3's RSS with 10,000 points. A compiled file that imports another TypeBox
 * subpath fails the build: the bundle and a second copy from node_modules would not share
 * state, so every subpath used must be listed here.
 */
export const VENDORED_TYPEBOX = { typebox: 'typebox.js', 'typebox/compile': 'typebox-compile.js', 'typebox/value': 'typebox-value.js' };

/** Every compiled .js file under `dir`, but the vendor bundle's. */
function compiledFiles(dir, out = []) {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const f = path.join(dir, e.name);
    if (e.isDirectory()) {
      if (e.name !== 'vendor') compiledFiles(f, out);
    } else if (e.name.endsWith('.js')) out.push(f);
  }
  return out;
}

/**
 * Bundles the TypeBox entry points the compiled files import into `outDir/vendor/` (ES
 * modules, shared code in chunks, so the three share one copy of TypeBox) and points those
 * imports at it. Nothing when no compiled file imports TypeBox.
 */
async function vendorTypeBox(esbuild, outDir) {
  const spec = /(\bfrom\s*|\bimport\s*\(?\s*)"(typebox(?:\/[^"]*)?)"/g;
  const importers = [];
  const used = new Set();
  for (const f of compiledFiles(outDir)) {
    const text = readFileSync(f, 'utf8');
    if (!text.includes('"typebox')) continue;
    let found = false;
    for (const m of text.matchAll(spec)) {
      if (!(m[2] in VENDORED_TYPEBOX)) throw new Error(`bin/build.js: ${path.relative(outDir, f)} imports "${m[2]}", which the TypeBox bundle does not hold: add it to VENDORED_TYPEBOX`);
      used.add(m[2]);
      found = true;
    }
    if (found) importers.push([f, text]);
  }
  if (used.size === 0) return;
  const vendorDir = path.join(outDir, 'vendor');
  const entryDir = path.join(vendorDir, 'entries');
  mkdirSync(entryDir, { recursive: true });
  const entryPoints = {};
  for (const s of used) {
    const name = VENDORED_TYPEBOX[s].replace(/\.js$/, '');
    const file = path.join(entryDir, `${name}.mjs`);
    writeFileSync(file, `export * from '${s}';\nexport { default } from '${s}';\n`);
    entryPoints[name] = file;
  }
  await esbuild.build({
    entryPoints,
    outdir: vendorDir,
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: `node${process.versions.node.split('.')[0]}`,
    chunkNames: 'chunks/[name]-[hash]',
    logLevel: 'warning',
  });
  rmSync(entryDir, { recursive: true, force: true });
  for (const [f, text] of importers) {
    const rel = path.relative(path.dirname(f), vendorDir).split(path.sep).join('/');
    writeFileSync(f, text.replace(spec, (_, head, s) => `${head}"${rel.startsWith('.') ? rel : `./${rel}`}/${VENDORED_TYPEBOX[s]}"`));
  }
}

/** Whether `root` has a compiled copy at all (fresh or not): `bin/steward.js` says when it has one it cannot use. */
export function builtOnce(root = ROOT) {
  return existsSync(path.join(root, 'node_modules', '.cache', 'steward', 'fingerprint.json'));
}

/** Compiles the sources of `root` into its node_modules/.cache/steward/; the fingerprint is written last, so a failed build is never used. */
export async function build(root = ROOT) {
  // tsx's own esbuild: the same transform the sources get when they run through tsx.
  const esbuild = createRequire(createRequire(import.meta.url).resolve('tsx/package.json'))('esbuild');
  const outDir = path.join(root, 'node_modules', '.cache', 'steward');
  const mark = '/node_modules/.cache/steward/';
  const files = sources(root);
  const before = fingerprint(root, files);
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });
  const tsconfig = JSON.parse(readFileSync(path.join(root, 'tsconfig.json'), 'utf8'));
  await esbuild.build({
    entryPoints: files.map((f) => path.join(root, f)),
    outdir: outDir,
    outbase: root,
    bundle: false,
    format: 'esm',
    platform: 'node',
    target: `node${process.versions.node.split('.')[0]}`,
    tsconfigRaw: { compilerOptions: tsconfig.compilerOptions },
    sourcemap: 'linked', // used with `node --enable-source-maps` only: no cost otherwise
    logLevel: 'warning',
    define: { 'import.meta.url': '__stewardSourceUrl' },
    banner: {
      js: `const __stewardSourceUrl = ((u) => { const i = u.lastIndexOf(${JSON.stringify(mark)}); return u.slice(0, i + 1) + u.slice(i + ${mark.length}).replace(/\\.js$/, '.ts'); })(import.meta.url);`,
    },
  });
  await vendorTypeBox(esbuild, outDir);
  // Under node_modules/ no package.json of ours applies: say the compiled files are ES modules.
  writeFileSync(path.join(outDir, 'package.json'), `${JSON.stringify({ type: 'module', private: true }, null, 2)}\n`);
  const after = fingerprint(root, files);
  // A source changed while compiling: leave no fingerprint, so the copy is not used.
  if (after !== before || after !== fingerprint(root)) throw new Error('bin/build.js: the sources changed while they were compiled; run it again');
  writeFileSync(path.join(outDir, 'fingerprint.json'), `${JSON.stringify({ fingerprint: after, files: files.length, node: process.version, builtAt: new Date().toISOString() }, null, 2)}\n`);
  return { files: files.length, dir: outDir };
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const t0 = performance.now();
  const { files, dir } = await build();
  console.log(`steward: ${files} TypeScript files compiled into ${path.relative(process.cwd(), dir) || dir} in ${Math.round(performance.now() - t0)} ms`);
}
