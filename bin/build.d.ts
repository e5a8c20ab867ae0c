/** Types of bin/build.js (plain JavaScript: it runs before anything is compiled). */
/** A hash of the path, size and mtime of every source the build compiles under `root`. */
export function fingerprint(root?: string, files?: readonly string[]): string;
/** The URL of the compiled cli.js when the build of `root` matches its sources now, else undefined. */
export function freshBuild(root?: string): string | undefined;
/** Compiles the sources of `root` into `root`/node_modules/.cache/steward/. */
export function build(root?: string): Promise<{ files: number; dir: string }>;
/** Whether `root` has a compiled copy at all, fresh or not. */
export function builtOnce(root?: string): boolean;
/** TypeBox's entry points the compiled copy takes from its bundle, and the bundle's file for each. */
export const VENDORED_TYPEBOX: Readonly<Record<string, string>>;
