/**
 * Authentication and the access policy. Every call except enrolment, login, /healthz,
 * /metrics and /docs carries `Authorization: Bearer <token>` (RFC 6750): a gateway's
 * secret, or a person's login token. A gateway reaches only its own id and its own site's
 * data (DESIGN.md "Sync" → Auth); a login reads the sites of its scope (access/policy.ts).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { TOKEN_PREFIX } from '../crypto/tokens.js';
import { gatewayOfSecret } from '../gateways/enrolment.js';
import { requireSite, type Role } from '../access/policy.js';
import { sitesOfUser, userOfToken } from '../users/users.js';
import { CloudError } from './errors.js';

/** Who is calling. A user's `sites` is its scope: every site (admins) or the listed ones. */
export type Principal =
  | { kind: 'gateway'; gatewayId: string; site: string }
  | { kind: 'user'; userId: string; name: string; role: Role; sites: 'all' | readonly string[] };

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the route's authentication hook; null on routes without one. */
    principal: Principal | null;
  }
  interface FastifyInstance {
    /**
     * Resolves the request's bearer token to a principal, or throws 401
     * (CS_ERR_AUTH_MISSING / CS_ERR_AUTH_INVALID). `gatewayId`: the gateway the URL names,
     * whose secret is then compared in constant time.
     */
    authenticate(request: FastifyRequest, gatewayId?: string): Promise<Principal>;
  }
}

/** Longer tokens than this are refused without touching the database. */
const MAX_TOKEN_LENGTH = 512;

/** The bearer token of a request; throws CS_ERR_AUTH_MISSING / CS_ERR_AUTH_INVALID. */
export function bearerToken(request: FastifyRequest): string {
  const header = request.headers.authorization;
  if (header === undefined || header.trim() === '') {
    throw new CloudError('CS_ERR_AUTH_MISSING', 'this call needs an `Authorization: Bearer <token>` header (a gateway secret, or a token from POST /v1/auth/login)');
  }
  const match = /^Bearer +(\S+)\s*$/i.exec(header);
  if (match === null || match[1] === undefined) throw new CloudError('CS_ERR_AUTH_INVALID', 'the Authorization header must be `Bearer <token>`');
  if (match[1].length > MAX_TOKEN_LENGTH) throw new CloudError('CS_ERR_AUTH_INVALID', 'the bearer token is not valid');
  return match[1];
}

/** The gateway itself, and only it: otherwise 403 CS_ERR_FORBIDDEN. */
export function requireGatewaySelf(principal: Principal, gatewayId: string): Extract<Principal, { kind: 'gateway' }> {
  if (principal.kind !== 'gateway') throw new CloudError('CS_ERR_FORBIDDEN', 'only a gateway, with its own secret, may call this');
  if (principal.gatewayId !== gatewayId) throw new CloudError('CS_ERR_FORBIDDEN', `gateway "${principal.gatewayId}" may not act for gateway "${gatewayId}"`);
  return principal;
}

/** A gateway reads only its own site; a user only the sites of its scope (access/policy.ts). */
export function requireSiteReader(principal: Principal, site: string): void {
  requireSite(principal, site);
}

/** A gateway reads only itself; a user the gateways of its scope (checked by the caller against the gateway's site). */
export function requireGatewayReader(principal: Principal, gatewayId: string): void {
  if (principal.kind === 'gateway' && principal.gatewayId !== gatewayId) {
    throw new CloudError('CS_ERR_FORBIDDEN', `gateway "${principal.gatewayId}" may not read gateway "${gatewayId}"`);
  }
}

/** The principal the route's hook set; a route without an auth hook calling this is a bug. */
export function principalOf(request: FastifyRequest): Principal {
  if (request.principal === null) throw new CloudError('CS_ERR_INTERNAL', 'route has no authentication hook');
  return request.principal;
}

/** onRequest hook: any valid credential. */
export function authenticated(app: FastifyInstance) {
  return async (request: FastifyRequest): Promise<void> => {
    request.principal = await app.authenticate(request);
  };
}

/** onRequest hook for `/v1/gateways/:id/…` calls only the gateway itself may make. Runs before the body is read. */
export function gatewaySelf(app: FastifyInstance) {
  return async (request: FastifyRequest): Promise<void> => {
    const id = (request.params as { id?: unknown }).id;
    const gatewayId = typeof id === 'string' ? id : '';
    request.principal = requireGatewaySelf(await app.authenticate(request, gatewayId), gatewayId);
  };
}

async function authPlugin(app: FastifyInstance): Promise<void> {
  app.decorateRequest('principal', null);
  app.decorate('authenticate', async (request: FastifyRequest, gatewayId?: string): Promise<Principal> => {
    const token = bearerToken(request);
    const cdb = app.stewardDb;
    if (token.startsWith(TOKEN_PREFIX.gateway)) {
      const gateway = await gatewayOfSecret(cdb, token, gatewayId);
      if (gateway !== null) return { kind: 'gateway', gatewayId: gateway.id, site: gateway.site };
    } else if (token.startsWith(TOKEN_PREFIX.user)) {
      const user = await userOfToken(cdb, token);
      if (user !== null) return { kind: 'user', userId: user.id, name: user.name, role: user.role, sites: user.role === 'admin' ? 'all' : await sitesOfUser(cdb.db, user.id) };
    }
    throw new CloudError('CS_ERR_AUTH_INVALID', 'the bearer token is not a valid gateway secret or login token (wrong, replaced by a re-enrolment, or expired)');
  });
}

export default fp(authPlugin, { name: 'steward-auth', fastify: '5.x', dependencies: ['steward-errors', 'steward-db'] });
