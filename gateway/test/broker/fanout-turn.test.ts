/**
 * A turn that queues more than a subscriber's bound while its socket is empty (the worker
 * mode's: one turn of the worker can carry the changes of several of the poller's). A
 * subscriber that reads is written to during the turn and gets every value live; before
 * this, the worker counted the turn's own frames against the bound, dropped the rest and
 * caught up with them a turn later (measured at saturation with 50 subscribers that keep
 * up: ~400,000 values/s dropped and caught up). Runs in both modes (the poller's thread
 * never counted the turn's frames).
 */
import t from 'tap';
import { verifyPassword } from '../../src/api/auth.js';
import { Broker } from '../../src/broker/broker.js';
import { createLogger } from '../../src/core/logger.js';
import { until } from '../../../test/support/until.js';
import { client } from './mqtt-peers.js';

for (const worker of [false, true]) {
  t.test(`one turn of 100 KiB for a subscriber bound at 64 KiB that reads (${worker ? 'worker' : 'calling'} thread): every value live, none dropped`, async (t) => {
    const broker = await Broker.start({
      site: 's1',
      config: { host: '127.0.0.1', port: 0, enabled: true, allowAnonymous: false, gatewayUsers: false, maxPayloadBytes: 65536, users: [{ username: 'all', role: 'viewer', password: 'all-pass' }] },
      gatewayUsers: [],
      verifyPassword: (secret, password) => verifyPassword({ name: '', role: 'viewer', ...secret }, password),
      writePoint: () => Promise.reject(new Error('no writes here')),
      log: createLogger({ level: 'silent' }),
      port: 0,
      worker,
      slowSubscriber: { maxBufferedBytes: 64 * 1024, drainTimeoutMs: 600_000 },
    });
    t.teardown(() => broker.close());
    const c = await client(broker.url, { username: 'all', password: 'all-pass' });
    t.teardown(() => c.endAsync());
    const got: string[] = [];
    // The point topics only (`big/+` matches `big/$values` too: the $ rule is for the first level).
    c.on('message', (topic, payload) => (topic.endsWith('/$values') ? undefined : got.push(`${topic} ${payload.toString('utf8').slice(0, 12)}`)));
    await c.subscribeAsync('steward/v1/s1/big/+');
    // One batch, one turn: 10 values of 10 KiB (~100 KiB of frames) for a bound of 64 KiB.
    const body = 'x'.repeat(10 * 1024);
    t.equal(
      broker.publishReadings(
        'big',
        Array.from({ length: 10 }, (_, i) => ({ point: `big.p${i}`, ts: 1000, value: `${i}:${body}`, quality: 'good' as const })),
      ),
      10,
    );
    await until('the 10 values', () => got.length >= 10);
    await broker.settled();
    t.same(broker.stats().valuesDropped, 0, 'none dropped for the turn’s own frames');
    t.same(broker.stats().valuesCaughtUp, 0, 'none sent late as a catch-up');
    t.same(
      got.map((m) => m.split(' ')[0]),
      Array.from({ length: 10 }, (_, i) => `steward/v1/s1/big/p${i}`),
      'in order, once each',
    );
  });
}
