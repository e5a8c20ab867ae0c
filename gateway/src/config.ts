/**
 * The gateway's configuration entry point (top floor, like main.ts): the generic loader
 * of core/config with the schemas of this build's drivers and the bundled profile library.
 */
import { fileURLToPath } from 'node:url';
import { loadProfile, loadSite, type LoadOptions, type SiteConfig } from './core/config/load.js';
import type { DeviceProfile } from './core/config/profile.js';
import { protocolSchemas } from './drivers/schemas.js';

/** The `device-profiles/` folder shipped with Steward. */
export const BUNDLED_PROFILE_DIR = fileURLToPath(new URL('../../device-profiles/', import.meta.url));

/** `more.fleetProfileDir`: check a candidate set of fleet profiles instead of the installed one (site-install.ts). */
export function loadSiteConfig(file: string, env?: Readonly<Record<string, string | undefined>>, resolveSecrets = true, more: Pick<LoadOptions, 'fleetProfileDir'> = {}): SiteConfig {
  return loadSite(file, { schemas: protocolSchemas, bundledProfileDir: BUNDLED_PROFILE_DIR, resolveSecrets, ...more, ...(env === undefined ? {} : { env }) });
}

export function loadProfileFile(file: string): DeviceProfile {
  return loadProfile(file, protocolSchemas);
}
