/**
 * The `site` and `profiles/<id>` parts of a desired configuration from the cloud, installed
 * on a gateway that runs from a site.yaml file (`steward gateway --config FILE`).
 *
 * All or nothing: the candidate site.yaml is written beside the real one (so its relative
 * paths resolve the same), the candidate profiles into a folder of their own (the fleet
 * profiles already installed, then the new parts over them), and the whole is loaded and
 * checked exactly as a start would. Only when every part is valid is it installed: the
 * profiles folder swapped in (`<dataDir>/config/profiles/`, the previous one kept as
 * `profiles.previous/`) and site.yaml replaced by a rename (the previous one kept as
 * `site.yaml.previous`). The caller then restarts the gateway on it. A part that is wrong
 * leaves everything as it was and names the problem.
 */
import { cpSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ConfigInvalidError, fleetProfileDir, type SiteConfig } from './core/config/load.js';
import { loadProfileFile, loadSiteConfig } from './config.js';

export type PartOutcome = 'applied' | { readonly error: string };

/** True for the parts installSiteParts() takes (the others are Node-RED flows, models…). */
export function isSitePart(name: string): boolean {
  return name === 'site' || name.startsWith('profiles/');
}

function issuesOf(err: unknown): string {
  if (err instanceof ConfigInvalidError) return (err.details.issues as string[]).join('; ');
  return err instanceof Error ? err.message : String(err);
}

/**
 * Checks and installs the site and profile parts of desired configuration `version`.
 * `changed` says whether anything was installed (then the gateway must restart on it).
 */
export function installSiteParts(options: {
  readonly siteFile: string;
  readonly current: SiteConfig;
  readonly version: number;
  readonly parts: Readonly<Record<string, string>>;
  readonly env?: Readonly<Record<string, string | undefined>>;
}): { readonly outcome: Record<string, PartOutcome>; readonly changed: boolean } {
  const names = Object.keys(options.parts).filter(isSitePart);
  if (names.length === 0) return { outcome: {}, changed: false };
  const failAll = (error: string) => ({ outcome: Object.fromEntries(names.map((n) => [n, { error }])), changed: false });

  const dataDir = options.current.gateway.dataDir;
  const installed = fleetProfileDir(dataDir);
  const stage = path.join(dataDir, 'config', `install-v${options.version}`);
  const candidateProfiles = path.join(stage, 'profiles');
  const siteFile = path.resolve(options.siteFile);
  const candidateSite = path.join(path.dirname(siteFile), `.site-v${options.version}.yaml`);
  const cleanUp = () => {
    rmSync(stage, { recursive: true, force: true });
    rmSync(candidateSite, { force: true });
  };
  cleanUp();
  try {
    mkdirSync(candidateProfiles, { recursive: true });
    if (existsSync(installed)) cpSync(installed, candidateProfiles, { recursive: true });
    const profileErrors: string[] = [];
    for (const name of names.filter((n) => n !== 'site')) {
      // The downlink has already refused part names that are not safe relative paths.
      const file = path.join(candidateProfiles, `${name.slice('profiles/'.length)}.yaml`);
      mkdirSync(path.dirname(file), { recursive: true });
      writeFileSync(file, options.parts[name]!);
      try {
        loadProfileFile(file);
      } catch (err) {
        profileErrors.push(`${name}: ${issuesOf(err)}`);
      }
    }
    if (profileErrors.length > 0) return failAll(`profiles refused, nothing installed: ${profileErrors.join(' | ')}`);

    writeFileSync(candidateSite, options.parts.site ?? readFileSync(siteFile, 'utf8'));
    let next: SiteConfig;
    try {
      next = loadSiteConfig(candidateSite, options.env, true, { fleetProfileDir: candidateProfiles });
    } catch (err) {
      // Named as the files they would have become.
      const issues = issuesOf(err).replaceAll(candidateSite, siteFile).replaceAll(candidateProfiles, installed);
      return failAll(`site config v${options.version} refused, nothing installed: ${issues}`);
    }
    if (next.site.id !== options.current.site.id) return failAll(`site config v${options.version} refused: site.id may not change (${options.current.site.id} → ${next.site.id}); enrol a new gateway instead`);
    if (next.gateway.dataDir !== dataDir) return failAll(`site config v${options.version} refused: gateway.dataDir may not change by fleet configuration (${dataDir} → ${next.gateway.dataDir})`);

    // Valid as a whole: install.
    const previous = `${installed}.previous`;
    rmSync(previous, { recursive: true, force: true });
    if (existsSync(installed)) renameSync(installed, previous);
    renameSync(candidateProfiles, installed);
    if (options.parts.site !== undefined) {
      writeFileSync(`${siteFile}.previous`, readFileSync(siteFile));
      renameSync(candidateSite, siteFile);
    }
    return { outcome: Object.fromEntries(names.map((n) => [n, 'applied' as const])), changed: true };
  } catch (err) {
    return failAll(`installing site config v${options.version} failed, nothing installed: ${issuesOf(err)}`);
  } finally {
    cleanUp();
  }
}
