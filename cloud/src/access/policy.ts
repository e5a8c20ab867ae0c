/**
 * Who may do what, where (issue 5 "Tenancy and access"). The company is the cloud
 * instance; it has regions, a region has sites (communities), a site has gateways. A user
 * has one role and a scope: `admin` is company-wide; every other role sees only the sites
 * it is scoped to (sites given one by one, or whole regions). A gateway acts only for
 * itself and reads only its own site.
 *
 * | role         | may                                                                                   |
 * | ------------ | ------------------------------------------------------------------------------------- |
 * | viewer       | read its sites: gateways, points, events, alarms, work orders, KPIs                   |
 * | technician   | read its sites; work its own work orders (accept, decline, start, hold, resume, note, resolve); check in |
 * | dispatcher   | viewer + create work orders, assign/dispatch, note, hold/resume, manage technicians    |
 * | site_manager | dispatcher + cancel, close, reopen, issue residents' links, acknowledge alarms         |
 * | admin        | everything, company-wide: users, regions, sites, gateways, SLA, rules, webhooks, fleet configuration |
 */
import type { Principal } from '../plugins/auth.js';
import { CloudError } from '../plugins/errors.js';

export const ROLES = ['admin', 'site_manager', 'dispatcher', 'technician', 'viewer'] as const;
export type Role = (typeof ROLES)[number];

export type Permission =
  | 'read'
  | 'workorder.create'
  | 'workorder.dispatch'
  | 'workorder.manage'
  | 'workorder.work'
  | 'technician.manage'
  | 'admin';

const GRANTS: Readonly<Record<Role, readonly Permission[]>> = {
  viewer: ['read'],
  technician: ['read', 'workorder.work'],
  dispatcher: ['read', 'workorder.create', 'workorder.dispatch', 'technician.manage'],
  site_manager: ['read', 'workorder.create', 'workorder.dispatch', 'workorder.manage', 'technician.manage'],
  admin: ['read', 'workorder.create', 'workorder.dispatch', 'workorder.manage', 'workorder.work', 'technician.manage', 'admin'],
};

export function isRole(value: string): value is Role {
  return (ROLES as readonly string[]).includes(value);
}

export function can(principal: Principal, permission: Permission): boolean {
  if (principal.kind === 'gateway') return false;
  return GRANTS[principal.role].includes(permission);
}

/** Throws 403 unless the user's role grants `permission`. */
export function requirePermission(principal: Principal, permission: Permission): Extract<Principal, { kind: 'user' }> {
  if (principal.kind !== 'user') throw new CloudError('CS_ERR_FORBIDDEN', 'this call needs a login, not a gateway secret');
  if (!GRANTS[principal.role].includes(permission)) {
    throw new CloudError('CS_ERR_FORBIDDEN', `role ${principal.role} may not do this (needs ${permission})`);
  }
  return principal;
}

/** May the principal see this site at all? */
export function seesSite(principal: Principal, site: string): boolean {
  if (principal.kind === 'gateway') return principal.site === site;
  return principal.sites === 'all' || principal.sites.includes(site);
}

/**
 * Throws unless the principal may see `site`. The answer is 404 (`CS_ERR_NOT_FOUND`)
 * rather than 403 for users, so a scoped user cannot even learn which other sites exist;
 * gateways get 403 as before (protocol v1).
 */
export function requireSite(principal: Principal, site: string, what = `site "${site}"`): void {
  if (seesSite(principal, site)) return;
  if (principal.kind === 'gateway') throw new CloudError('CS_ERR_FORBIDDEN', `gateway "${principal.gatewayId}" may read only site "${principal.site}", not "${site}"`);
  throw new CloudError('CS_ERR_NOT_FOUND', `no ${what}`);
}

/** The sites a query must be limited to, or undefined for every site. */
export function siteFilter(principal: Principal): readonly string[] | undefined {
  if (principal.kind === 'gateway') return [principal.site];
  return principal.sites === 'all' ? undefined : principal.sites;
}
