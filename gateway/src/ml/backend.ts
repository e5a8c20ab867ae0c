/**
 * Picks the TF.js backend once, at start (issue 7, DESIGN.md "Machine learning"):
 * `@tensorflow/tfjs-node` when it can be imported (native libtensorflow: fastest, but its
 * install downloads libtensorflow and fails offline, so it is optional), else the
 * WebAssembly backend (its `.wasm` files ship in the npm package, SIMD when the CPU has
 * it), else the plain JavaScript `cpu` backend.
 *
 * The importer is a parameter so that the selection path is tested with a fake module,
 * not by pretending tfjs-node is installed.
 */
import * as tf from '@tensorflow/tfjs-core';

export type BackendName = 'tensorflow' | 'wasm' | 'cpu';

export interface BackendChoice {
  /** The backend now active in tfjs-core. */
  readonly name: BackendName;
  /** Why the faster ones were not used (empty when the first choice worked). */
  readonly skipped: readonly { name: BackendName; reason: string }[];
}

export interface BackendDeps {
  /** Imports a module by name (default: dynamic `import`). */
  readonly importModule: (name: string) => Promise<unknown>;
  /** The order to try (default tensorflow, wasm, cpu). */
  readonly order?: readonly BackendName[];
}

const defaultDeps: BackendDeps = { importModule: (name) => import(name) };

/** Registers and activates the first backend that works; `cpu` always does. */
export async function selectBackend(deps: BackendDeps = defaultDeps, prefer?: BackendName): Promise<BackendChoice> {
  const order = prefer !== undefined ? [prefer, 'cpu' as const] : (deps.order ?? (['tensorflow', 'wasm', 'cpu'] as const));
  const skipped: { name: BackendName; reason: string }[] = [];
  for (const name of order) {
    try {
      if (name === 'tensorflow') await deps.importModule('@tensorflow/tfjs-node'); // registers the 'tensorflow' backend as a side effect
      if (name === 'wasm') await deps.importModule('@tensorflow/tfjs-backend-wasm');
      if (name === 'cpu') await deps.importModule('@tensorflow/tfjs-backend-cpu');
      if (tf.findBackendFactory(name) === null) throw new Error(`importing it did not register a '${name}' backend`);
      if (!(await tf.setBackend(name))) throw new Error(`tf.setBackend('${name}') failed`);
      await tf.ready();
      return { name, skipped };
    } catch (err) {
      skipped.push({ name, reason: err instanceof Error ? err.message.split('\n')[0]! : String(err) });
    }
  }
  throw new Error(`no TF.js backend could start: ${skipped.map((s) => `${s.name}: ${s.reason}`).join('; ')}`);
}
