/**
 * SQLite's page cache (issue 3: it stays resident once filled): 8 MiB unless
 * `cacheMiB` says otherwise; a size that is not a positive number is refused.
 */
import t from 'tap';
import { GatewayStore } from '../../src/store/store.js';

const cacheKiB = (s: GatewayStore): number => -(s.db.pragma('cache_size', { simple: true }) as number);

t.test('the page cache is 8 MiB by default, cacheMiB otherwise', async (t) => {
  const byDefault = new GatewayStore({ dataDir: ':memory:', site: 's' });
  t.teardown(() => byDefault.close());
  t.equal(cacheKiB(byDefault), 8192);
  const set = new GatewayStore({ dataDir: ':memory:', site: 's', cacheMiB: 2.5 });
  t.teardown(() => set.close());
  t.equal(cacheKiB(set), 2560);
});

t.test('a cache size that is not a positive number is refused', async (t) => {
  for (const cacheMiB of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
    t.throws(() => new GatewayStore({ dataDir: ':memory:', site: 's', cacheMiB }), /cacheMiB must be a number of MiB > 0/);
  }
});
