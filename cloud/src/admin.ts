/**
 * Administration for scripts, the CLI and tests: register gateways and create logins,
 * against a running app or a database opened without one.
 */
import type { FastifyInstance } from 'fastify';
import type { CloudDatabase } from './db/open.js';
import { createGateway, type NewGateway } from './gateways/enrolment.js';
import { createUser, type NewUser } from './users/users.js';

/** What the admin functions act on: the app from `buildCloud`/`startCloud`, or an open database. */
export type CloudTarget = FastifyInstance | CloudDatabase;

function databaseOf(target: CloudTarget): CloudDatabase {
  return 'stewardDb' in target ? target.stewardDb : target;
}

/**
 * Registers a gateway under a site (creating the site if needed) and returns its one-time
 * enrolment token (valid 7 days) for site.yaml's `cloud.enrolmentToken`. For an existing
 * gateway of the same site, issues a new token (its current secret stays valid until the
 * token is used). Throws CloudError CS_ERR_GATEWAY_EXISTS if the gateway belongs to
 * another site, CS_ERR_CONFIG_INVALID for an id that is not `[a-z0-9][a-z0-9-]*` (≤ 64).
 */
export async function addGateway(target: CloudTarget, gateway: NewGateway): Promise<string> {
  return createGateway(databaseOf(target), gateway);
}

/**
 * Creates a login (role defaults to `viewer`; passwords need ≥ 8 characters). Throws
 * CloudError CS_ERR_USER_EXISTS for a taken name, CS_ERR_CONFIG_INVALID for a bad name,
 * role or password.
 */
export async function addUser(target: CloudTarget, user: NewUser): Promise<void> {
  await createUser(databaseOf(target), user);
}
