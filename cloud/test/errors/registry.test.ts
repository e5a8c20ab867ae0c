/**
 * Every cloud error code is unique, well-formed, of a known kind, summarised, and documented
 * in docs/errors.md with its HTTP status (CONVENTIONS §2); the kind decides the status (§3).
 */
import { readFileSync } from 'node:fs';
import t from 'tap';
import { CloudError, cloudErrors, errorReply, statusOf, statusOfKind, toCloudError, type CloudErrorCode, type ErrorKind, type ErrorSpec } from '../../src/plugins/errors.js';

const kinds: ErrorKind[] = ['communication', 'timeout', 'contract', 'not_found', 'conflict', 'limit', 'auth'];
const doc = readFileSync(new URL('../../../docs/errors.md', import.meta.url), 'utf8');
const codes = Object.keys(cloudErrors) as CloudErrorCode[];

t.test('codes are well-formed, of a known kind, summarised, and documented once with their status', async (t) => {
  t.equal(new Set(codes).size, codes.length, 'unique');
  const cloudSection = doc.slice(doc.indexOf('## Cloud (CS_ERR_*)'));
  t.ok(doc.includes('## Cloud (CS_ERR_*)'), 'docs/errors.md has a Cloud section');
  for (const code of codes) {
    const spec = cloudErrors[code];
    t.match(code, /^CS_ERR_[A-Z0-9_]+$/, code);
    t.ok(kinds.includes(spec.kind), `${code} has a known kind`);
    t.ok(spec.summary.length > 20, `${code} has a summary`);
    const rows = doc.split('\n').filter((l) => l.startsWith(`| \`${code}\``));
    t.equal(rows.length, 1, `${code} has exactly one row in docs/errors.md`);
    t.ok(cloudSection.includes(`| \`${code}\` | ${spec.kind} | ${statusOf(code)} |`), `${code}: kind and status documented as in the registry`);
  }
  const documented = [...cloudSection.matchAll(/^\| `(CS_ERR_[A-Z0-9_]+)`/gm)].map((m) => m[1]);
  t.same(documented.filter((c) => !codes.includes(c as CloudErrorCode)), [], 'no documented code is missing from the registry');
});

t.test('the kind decides the HTTP status; bad input is never a 5xx', async (t) => {
  t.same(
    kinds.map((k) => statusOfKind(k)),
    [502, 504, 400, 404, 409, 429, 401],
  );
  for (const code of codes) {
    const spec: ErrorSpec = cloudErrors[code];
    const status = statusOf(code);
    if (spec.kind === 'communication' || spec.kind === 'timeout') t.ok(status >= 500, `${code} → ${status}`);
    else t.ok(status >= 400 && status < 500, `${code} → ${status}`);
  }
});

t.test('an error answer is an ErrorReply plus its extra fields', async (t) => {
  const err = new CloudError('CS_ERR_BATCH_SEQ_GAP', 'lane 2: expected 4, got 6', { reply: { lane: 2, expected: 4, got: 6 } });
  t.same(errorReply(err), { lane: 2, expected: 4, got: 6, statusCode: 409, code: 'CS_ERR_BATCH_SEQ_GAP', error: 'Conflict', message: 'lane 2: expected 4, got 6' });
  const internal = toCloudError(new TypeError('x is undefined'));
  t.equal(internal.code, 'CS_ERR_INTERNAL');
  t.equal(internal.message, 'internal error', 'details of a bug are not leaked');
  const refused = toCloudError(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' }));
  t.equal(refused.code, 'CS_ERR_DB_UNAVAILABLE');
  t.equal(refused.statusCode, 503);
});
