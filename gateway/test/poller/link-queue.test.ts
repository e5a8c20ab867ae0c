/**
 * The link queue: one task at a time per link, in the order they were queued; a task
 * that fails (or throws before returning its promise) does not hold up the next one.
 */
import t from 'tap';
import { LinkQueue } from '../../src/poller/link-queue.js';

/** A task whose promise the test settles by hand, and a log of when it started. */
function deferred(log: string[], name: string) {
  let resolve!: (v: string) => void;
  let reject!: (e: Error) => void;
  const task = () => {
    log.push(`start ${name}`);
    return new Promise<string>((res, rej) => {
      resolve = res;
      reject = rej;
    });
  };
  return { task, resolve: (v: string) => resolve(v), reject: (e: Error) => reject(e) };
}

const tick = () => new Promise((r) => setImmediate(r));

t.test('one task at a time, first in first out; depth counts queued and running', async (t) => {
  const q = new LinkQueue('tcp://x:502');
  const log: string[] = [];
  const a = deferred(log, 'a');
  const b = deferred(log, 'b');
  const c = deferred(log, 'c');
  const pa = q.run(a.task);
  const pb = q.run(b.task);
  const pc = q.run(c.task);
  await tick();
  t.same(log, ['start a'], 'only the first runs');
  t.equal(q.depth, 3);
  a.resolve('A');
  t.equal(await pa, 'A');
  await tick();
  t.same(log, ['start a', 'start b'], 'the second starts once the first settled');
  b.reject(new Error('refused'));
  await t.rejects(pb, /refused/, 'a failure reaches its caller');
  await tick();
  t.same(log, ['start a', 'start b', 'start c'], 'and does not hold up the next');
  c.resolve('C');
  t.equal(await pc, 'C');
  t.equal(q.depth, 0);
});

t.test('a task that throws instead of returning a promise rejects, and the link goes on', async (t) => {
  const q = new LinkQueue('rtu:///dev/ttyS0');
  const thrown = q.run(() => {
    throw new Error('no port');
  });
  const next = q.run(async () => 'ok');
  await t.rejects(thrown, /no port/);
  t.equal(await next, 'ok');
  t.equal(q.depth, 0);
});

t.test('with a gap between requests, tasks still run one at a time in order', async (t) => {
  const q = new LinkQueue('rtu:///dev/ttyS1', 2);
  const order: number[] = [];
  let running = 0;
  let most = 0;
  await Promise.all(
    [1, 2, 3, 4].map((i) =>
      q.run(async () => {
        running++;
        most = Math.max(most, running);
        await tick();
        order.push(i);
        running--;
      }),
    ),
  );
  t.same(order, [1, 2, 3, 4]);
  t.equal(most, 1, 'never two at once');
  // An idle link takes a task again.
  t.equal(await q.run(async () => 5), 5);
});
