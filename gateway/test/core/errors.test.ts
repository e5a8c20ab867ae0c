/**
 * Every gateway error code is unique, well-formed, of a known kind and documented in
 * docs/errors.md (CONVENTIONS §2); the kind alone decides whether to retry (§3).
 */
import { readFileSync } from 'node:fs';
import t from 'tap';
import { GatewayError, gatewayErrors, isRetryable, type ErrorKind } from '../../src/core/errors.js';

const kinds: ErrorKind[] = ['communication', 'timeout', 'contract', 'not_found', 'conflict', 'limit', 'auth'];
const doc = readFileSync(new URL('../../../docs/errors.md', import.meta.url), 'utf8');

t.test('codes are well-formed, of a known kind, summarised and documented', async (t) => {
  for (const [code, spec] of Object.entries(gatewayErrors)) {
    t.match(code, /^GW_ERR_[A-Z0-9_]+$/, code);
    t.ok(kinds.includes(spec.kind), `${code} has a known kind`);
    t.ok(spec.summary.length > 20, `${code} has a summary`);
    t.ok(doc.includes(`\`${code}\``), `${code} is in docs/errors.md`);
  }
});

t.test('codes are unique, also in the document', async (t) => {
  const codes = Object.keys(gatewayErrors);
  t.equal(new Set(codes).size, codes.length);
  for (const code of codes) {
    const rows = doc.split('\n').filter((l) => l.startsWith(`| \`${code}\``));
    t.equal(rows.length, 1, `${code} has one row`);
  }
});

t.test('an error carries code, kind, details and cause', async (t) => {
  const cause = new Error('ECONNREFUSED');
  const err = new GatewayError('GW_ERR_MODBUS_CONNECT', 'pump-1: cannot connect', { cause, details: { device: 'pump-1' } });
  t.equal(err.code, 'GW_ERR_MODBUS_CONNECT');
  t.equal(err.kind, 'communication');
  t.equal(err.cause, cause);
  t.same(err.details, { device: 'pump-1' });
});

t.test('the kind decides retry', async (t) => {
  t.same(
    kinds.filter((k) => isRetryable(k)),
    ['communication', 'timeout', 'limit'],
  );
});
