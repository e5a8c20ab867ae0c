/**
 * Rate limits (@fastify/rate-limit): every caller is limited per credential (a gateway's
 * secret or a login token; its IP address when it has none) to `perMinute` requests;
 * logins to {@link LOGIN_PER_MINUTE} a minute per address and user name (password
 * guessing); residents' public links to {@link PUBLIC_PER_MINUTE} a minute per address.
 * Counters are per process: behind a load balancer each replica counts for itself (a
 * shared store — Redis — would make them exact; docs/scaling.md).
 */
import { createHash } from 'node:crypto';
import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { CloudError } from './errors.js';

export const DEFAULT_PER_MINUTE = 6000;
export const LOGIN_PER_MINUTE = 10;
export const PUBLIC_PER_MINUTE = 60;

export interface RateLimitOptions {
  /** Requests a minute per credential; false turns the global limit off (benchmarks). Logins are limited whatever this says. */
  perMinute?: number | false;
}

function credentialKey(request: FastifyRequest): string {
  const auth = request.headers.authorization;
  return typeof auth === 'string' && auth.length > 0 ? `cred:${createHash('sha256').update(auth).digest('hex').slice(0, 32)}` : `ip:${request.ip}`;
}

/** Route config for logins: per address and name. */
export const loginRateLimit = {
  // After parsing, so the key can include the name: one user's guesser does not lock out the rest of an office behind one NAT address.
  hook: 'preHandler' as const,
  max: LOGIN_PER_MINUTE,
  timeWindow: 60_000,
  keyGenerator: (request: FastifyRequest): string => {
    const name = (request.body as { name?: unknown } | undefined)?.name;
    return `login:${request.ip}:${typeof name === 'string' ? name.slice(0, 64) : ''}`;
  },
};
export const publicRateLimit = { max: PUBLIC_PER_MINUTE, timeWindow: 60_000, keyGenerator: (request: FastifyRequest): string => `public:${request.ip}` };

async function rateLimitPlugin(app: FastifyInstance, opts: RateLimitOptions): Promise<void> {
  const perMinute = opts.perMinute ?? DEFAULT_PER_MINUTE;
  await app.register(rateLimit, {
    global: perMinute !== false,
    max: perMinute === false ? 1_000_000 : perMinute,
    timeWindow: 60_000,
    keyGenerator: credentialKey,
    errorResponseBuilder: (_request, context) => new CloudError('CS_ERR_RATE_LIMITED', `too many requests: retry in ${context.after}`),
  });
}

export default fp(rateLimitPlugin, { name: 'steward-rate-limit', fastify: '5.x', dependencies: ['steward-errors'] });
