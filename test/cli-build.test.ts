/**
 * The compiled copy `bin/steward.js` runs (bin/build.js, issue 3): used only while it
 * matches the sources, and in it every `import.meta.url` is still the source file's URL,
 * so paths beside the sources (models/, device-profiles/, package.json) mean the same.
 * Built here into a scratch root, never into this checkout's own copy (other tests run it).
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import t from 'tap';
import { build, builtOnce, freshBuild } from '../bin/build.js';

function scratchRoot(): string {
  const root = mkdtempSync(path.join(tmpdir(), 'steward-build-'));
  mkdirSync(path.join(root, 'bin'));
  mkdirSync(path.join(root, 'gateway/src/part'), { recursive: true });
  mkdirSync(path.join(root, 'gateway/test'), { recursive: true });
  writeFileSync(path.join(root, 'tsconfig.json'), JSON.stringify({ compilerOptions: { target: 'ES2022', module: 'NodeNext', strict: true, verbatimModuleSyntax: true } }));
  writeFileSync(
    path.join(root, 'bin/cli.ts'),
    [
      "import { where, type Where } from '../gateway/src/part/where.js';",
      'export async function main(): Promise<Where & { cli: string }> {',
      '  return { ...where(), cli: import.meta.url };',
      '}',
      '',
    ].join('\n'),
  );
  writeFileSync(
    path.join(root, 'gateway/src/part/where.ts'),
    [
      'export interface Where { readonly url: string; readonly beside: string; readonly resolved: string }',
      "export const where = (): Where => ({ url: import.meta.url, beside: new URL('../../../models/', import.meta.url).href, resolved: import.meta.resolve('./where.js') });",
      '',
    ].join('\n'),
  );
  writeFileSync(path.join(root, 'gateway/test/not-compiled.test.ts'), 'this is not TypeScript a build would accept');
  return root;
}

t.test('a build runs as its sources would, and only while they are unchanged', async (t) => {
  const root = scratchRoot();
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  t.equal(freshBuild(root), undefined, 'no build yet: the sources run through tsx');
  t.equal(builtOnce(root), false, 'and bin/steward.js has nothing to warn of');

  const { files } = await build(root);
  t.equal(files, 2, 'bin/ and gateway/src/ compiled, tests left out');
  const cli = freshBuild(root);
  t.equal(cli, pathToFileURL(path.join(root, 'node_modules/.cache/steward/bin/cli.js')).href);

  const { main } = (await import(cli!)) as { main(): Promise<{ url: string; beside: string; resolved: string; cli: string }> };
  const got = await main();
  t.equal(got.cli, pathToFileURL(path.join(root, 'bin/cli.ts')).href, 'import.meta.url is the source file');
  t.equal(got.url, pathToFileURL(path.join(root, 'gateway/src/part/where.ts')).href);
  t.equal(got.beside, pathToFileURL(path.join(root, 'models/')).href, 'paths beside the sources are the checkout');
  t.equal(got.resolved, pathToFileURL(path.join(root, 'node_modules/.cache/steward/gateway/src/part/where.js')).href, 'import.meta.resolve finds the compiled module');

  // An edit (a new mtime), a new source, a removed one: each makes the build stale.
  const where = path.join(root, 'gateway/src/part/where.ts');
  const later = new Date(Date.now() + 5000);
  utimesSync(where, later, later);
  t.equal(freshBuild(root), undefined, 'a source edited since the build');
  t.equal(builtOnce(root), true, 'a build that does not match: bin/steward.js says it runs the sources');
  await build(root);
  t.ok(freshBuild(root), 'built again');
  writeFileSync(path.join(root, 'gateway/src/part/new.ts'), 'export const n = 1;\n');
  t.equal(freshBuild(root), undefined, 'a source added since the build');
  await build(root);
  t.ok(freshBuild(root));
  rmSync(path.join(root, 'gateway/src/part/new.ts'));
  t.equal(freshBuild(root), undefined, 'a source removed since the build');
});

t.test('a source esbuild cannot compile fails the build and leaves no build to run', async (t) => {
  const root = scratchRoot();
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  writeFileSync(path.join(root, 'gateway/src/part/broken.ts'), 'export const = ;\n');
  await t.rejects(build(root));
  t.equal(freshBuild(root), undefined);
});

t.test('TypeBox comes from one bundle in the build, not its ~700 modules; an unlisted subpath fails the build', async (t) => {
  const root = scratchRoot();
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  // The checkout's TypeBox, as the scratch root's dependency.
  mkdirSync(path.join(root, 'node_modules'));
  symlinkSync(path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../node_modules/typebox'), path.join(root, 'node_modules/typebox'), 'dir');
  writeFileSync(
    path.join(root, 'gateway/src/part/schema.ts'),
    [
      "import { Type } from 'typebox';",
      "import { Compile } from 'typebox/compile';",
      "import { Value } from 'typebox/value';",
      'const T = Type.Object({ n: Type.Number({ minimum: 0 }) });',
      'export const check = (v: unknown): [boolean, boolean] => [Compile(T).Check(v), Value.Check(T, v)];',
      '',
    ].join('\n'),
  );
  await build(root);
  const out = path.join(root, 'node_modules/.cache/steward');
  const compiled = readFileSync(path.join(out, 'gateway/src/part/schema.js'), 'utf8');
  t.match(compiled, /from "\.\.\/\.\.\/\.\.\/vendor\/typebox\.js"/, 'typebox from the bundle');
  t.match(compiled, /from "\.\.\/\.\.\/\.\.\/vendor\/typebox-compile\.js"/);
  t.match(compiled, /from "\.\.\/\.\.\/\.\.\/vendor\/typebox-value\.js"/);
  t.notMatch(compiled, /"typebox/, 'no import left to node_modules');
  const files = (dir: string): string[] => readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(path.join(dir, e.name)) : [e.name]));
  t.ok(files(path.join(out, 'vendor')).length <= 6, `a handful of files (${files(path.join(out, 'vendor')).join(', ')})`);
  const { check } = (await import(pathToFileURL(path.join(out, 'gateway/src/part/schema.js')).href)) as { check(v: unknown): [boolean, boolean] };
  t.same(check({ n: 1 }), [true, true], 'the bundle validates');
  t.same(check({ n: -1 }), [false, false]);

  writeFileSync(path.join(root, 'gateway/src/part/other.ts'), "import { Guard } from 'typebox/guard';\nexport const g = Guard;\n");
  await t.rejects(build(root), /imports "typebox\/guard".*VENDORED_TYPEBOX/, 'a subpath the bundle does not hold: a clear error');
  t.equal(freshBuild(root), undefined, 'and no build to run');
});
