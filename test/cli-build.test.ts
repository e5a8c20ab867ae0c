/**
 * The compiled copy `bin/steward.js` runs (bin/build.js, issue 3): used only while it
 * matches the sources, and in it every `import.meta.url` is still the source file's URL,
 * so paths beside the sources (models/, device-profiles/, package.json) mean the same.
 * Built here into a scratch root, never into this checkout's own copy (other tests run it).
 */
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import t from 'tap';
import { build, freshBuild } from '../bin/build.js';

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
