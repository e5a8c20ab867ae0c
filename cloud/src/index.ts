/**
 * The Steward cloud's programmatic API (the demo, scripts and tests use it):
 *
 * - `buildCloud({ database, logger? })` → a ready Fastify app (not listening)
 * - `startCloud({ host?, port?, database, logger? })` → `{ url, app, close() }`
 * - `addGateway(appOrDb, { site, gateway, siteName? })` → one-time enrolment token
 * - `addUser(appOrDb, { name, password, role? })`
 * - `openCloudDatabase(database)` → a migrated database for `addGateway`/`addUser` without an app
 */
export { buildCloud, type BuildCloudOptions } from './app.js';
export { startCloud, type RunningCloud, type StartCloudOptions } from './server.js';
export { addGateway, addUser, type CloudTarget } from './admin.js';
export { openCloudDatabase, type CloudDatabase } from './db/open.js';
export type { NewGateway } from './gateways/enrolment.js';
export type { NewUser, Role } from './users/users.js';
export { CloudError, cloudErrors, type CloudErrorCode } from './plugins/errors.js';
