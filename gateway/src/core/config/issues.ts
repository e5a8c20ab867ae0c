/**
 * Turns JSON-Schema validation errors into messages a technician can act on:
 * `site.yaml: devices[3].connection.port: must be an integer 1–65535, got "50x" (line 14)`.
 *
 * TypeBox reports ajv-style errors (keyword, instancePath, schemaPath); one mistake often
 * yields several (an anyOf and each of its branches). We keep one message per path and
 * describe the expectation from the sub-schema itself, so every schema gets good
 * messages without hand-written text per field.
 */
import { Value } from 'typebox/value';
import type { TSchema } from 'typebox';

/** One problem in one file, at one path inside it. */
export interface ConfigIssue {
  /** The file as the user named it (or as it was found). */
  readonly file: string;
  /** Path segments inside the document, e.g. ['devices', 3, 'connection', 'port']. */
  readonly path: readonly (string | number)[];
  /** What was expected and what was found, without the file and path. */
  readonly message: string;
  /** 1-based line in the file, when known. */
  readonly line?: number;
}

/** `devices[3].connection.port` — the notation the docs and messages use. */
export function formatPath(path: readonly (string | number)[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else out += out === '' ? seg : `.${seg}`;
  }
  return out === '' ? '(top level)' : out;
}

export function formatIssue(issue: ConfigIssue): string {
  const where = issue.line === undefined ? '' : ` (line ${issue.line})`;
  return `${issue.file}: ${formatPath(issue.path)}: ${issue.message}${where}`;
}

type SchemaObject = Record<string, unknown>;

function isObject(v: unknown): v is SchemaObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Short, readable rendering of a value found in a file. */
export function show(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (typeof value === 'string') return JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value);
  if (Array.isArray(value)) return 'a list';
  if (isObject(value)) return 'a mapping';
  return String(value);
}

function literalValues(schema: SchemaObject): unknown[] | undefined {
  if ('const' in schema) return [schema.const];
  if (Array.isArray(schema.enum)) return schema.enum as unknown[];
  const branches = (schema.anyOf ?? schema.oneOf) as unknown;
  if (Array.isArray(branches) && branches.length > 0) {
    const all: unknown[] = [];
    for (const b of branches) {
      const v = isObject(b) ? literalValues(b) : undefined;
      if (v === undefined) return undefined;
      all.push(...v);
    }
    return all;
  }
  return undefined;
}

function range(min: unknown, max: unknown, unit = ''): string {
  const lo = typeof min === 'number' ? min : undefined;
  const hi = typeof max === 'number' ? max : undefined;
  if (lo !== undefined && hi !== undefined) return ` ${lo}–${hi}${unit}`;
  if (lo !== undefined) return ` ≥ ${lo}${unit}`;
  if (hi !== undefined) return ` ≤ ${hi}${unit}`;
  return '';
}

/** "an integer 1–65535", "one of: holding, input", "a string matching ^[a-z0-9-]+$"… */
export function describeSchema(schema: unknown): string {
  if (!isObject(schema)) return 'a valid value';
  if (typeof schema.description === 'string' && schema['x-expect'] === undefined && schema.type === undefined && literalValues(schema) === undefined) {
    return schema.description;
  }
  if (typeof schema['x-expect'] === 'string') return schema['x-expect'];
  const lits = literalValues(schema);
  if (lits !== undefined) {
    return lits.length === 1 ? `exactly ${JSON.stringify(lits[0])}` : `one of: ${lits.map((l) => String(l)).join(', ')}`;
  }
  const branches = (schema.anyOf ?? schema.oneOf) as unknown;
  if (Array.isArray(branches)) return branches.map(describeSchema).join(', or ');
  switch (schema.type) {
    case 'integer':
      return `an integer${range(schema.minimum, schema.maximum)}`;
    case 'number':
      return `a number${range(schema.minimum, schema.maximum)}`;
    case 'boolean':
      return 'true or false';
    case 'string': {
      if (typeof schema.pattern === 'string') return `a string matching ${schema.pattern}`;
      if (typeof schema.format === 'string') return `a ${schema.format} string`;
      const len = range(schema.minLength, schema.maxLength, ' characters');
      return `a string${len === '' ? '' : ` of${len}`}`;
    }
    case 'array': {
      const items = describeSchema(schema.items);
      const n = range(schema.minItems, schema.maxItems, ' items');
      return `a list${n === '' ? '' : ` of${n}`} of ${items}`;
    }
    case 'object':
      return 'a mapping';
    default:
      return 'a valid value';
  }
}

/** Follows a JSON pointer such as `#/properties/devices/items/properties/port` into a schema. */
function schemaAt(root: TSchema, schemaPath: string): unknown {
  const parts = schemaPath.replace(/^#\/?/, '').split('/').filter((p) => p !== '');
  let node: unknown = root;
  for (const raw of parts) {
    const part = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (!isObject(node) && !Array.isArray(node)) return undefined;
    node = (node as Record<string, unknown>)[part];
  }
  return node;
}

function pointerToPath(pointer: string): (string | number)[] {
  if (pointer === '') return [];
  return pointer
    .split('/')
    .slice(1)
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((p) => (/^\d+$/.test(p) ? Number(p) : p));
}

function valueAt(data: unknown, path: readonly (string | number)[]): unknown {
  let node: unknown = data;
  for (const seg of path) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<string | number, unknown>)[seg];
  }
  return node;
}

/** Validation issues with paths relative to the document, not yet bound to a file. */
export interface PathIssue {
  readonly path: (string | number)[];
  readonly message: string;
}

/**
 * Validates `data` against `schema` and returns one issue per offending path,
 * prefixed with `basePath` (for a sub-document validated on its own, e.g. a connection).
 */
export function validateAgainst(schema: TSchema, data: unknown, basePath: (string | number)[] = []): PathIssue[] {
  if (Value.Check(schema, data)) return [];
  const raw = Value.Errors(schema, data);
  // An anyOf failure explains itself; its branches' failures at the same path or below are noise.
  const anyOfPaths = raw.filter((e) => e.keyword === 'anyOf' || e.keyword === 'oneOf').map((e) => e.instancePath);
  const byPath = new Map<string, PathIssue>();
  for (const e of raw) {
    if (e.keyword === 'boolean') continue; // the additionalProperties:false echo, reported by its parent
    const underAnyOf = anyOfPaths.some((p) => (e.instancePath === p || e.instancePath.startsWith(`${p}/`)) && e.keyword !== 'anyOf' && e.keyword !== 'oneOf');
    if (underAnyOf) continue;
    const path = pointerToPath(e.instancePath);
    const value = valueAt(data, path);
    let message: string;
    const at = [...basePath, ...path];
    if (e.keyword === 'additionalProperties') {
      const extra = (e.params as { additionalProperties: string[] }).additionalProperties;
      const parent = schemaAt(schema, e.schemaPath);
      const allowed = isObject(parent) && isObject(parent.properties) ? Object.keys(parent.properties) : [];
      for (const key of extra) {
        const issue = { path: [...at, key], message: `unknown key "${key}"${allowed.length > 0 ? ` (expected one of: ${allowed.join(', ')})` : ''}` };
        byPath.set(`${JSON.stringify(issue.path)}`, issue);
      }
      continue;
    }
    if (e.keyword === 'required') {
      const missing = (e.params as { requiredProperties?: string[] }).requiredProperties ?? [];
      const parent = schemaAt(schema, e.schemaPath);
      for (const key of missing) {
        const props = isObject(parent) && isObject(parent.properties) ? parent.properties : {};
        const issue = { path: [...at, key], message: `is required: expected ${describeSchema(props[key])}` };
        byPath.set(`${JSON.stringify(issue.path)}`, issue);
      }
      continue;
    }
    const sub = schemaAt(schema, e.schemaPath);
    if (e.keyword === 'uniqueItems') message = 'must not repeat an item';
    else if (e.keyword === 'minItems' || e.keyword === 'maxItems') message = `must be ${describeSchema(sub)}, got ${Array.isArray(value) ? `${value.length} items` : show(value)}`;
    else message = `must be ${describeSchema(sub)}, got ${show(value)}`;
    const key = JSON.stringify(at);
    if (!byPath.has(key)) byPath.set(key, { path: at, message });
  }
  return [...byPath.values()];
}
