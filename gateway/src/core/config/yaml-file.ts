/**
 * Reads a YAML file keeping the position of every node, so that a validation issue at
 * `devices[3].connection.port` can also say which line of the file to look at.
 */
import { readFileSync } from 'node:fs';
import { LineCounter, parseDocument, isNode, type Document } from 'yaml';
import { GatewayError } from '../errors.js';

export interface YamlFile {
  /** The file as the user named it. */
  readonly file: string;
  /** The parsed plain data (maps → objects, sequences → arrays). */
  readonly data: unknown;
  /** 1-based line of the node at `path`, or of its nearest existing parent. */
  lineOf(path: readonly (string | number)[]): number | undefined;
}

/** Parses YAML text; a syntax error throws GW_ERR_CONFIG_YAML with line and column. */
export function parseYaml(file: string, text: string): YamlFile {
  const lineCounter = new LineCounter();
  const doc: Document = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const first = doc.errors[0];
  if (first !== undefined) {
    const pos = lineCounter.linePos(first.pos[0]);
    throw new GatewayError('GW_ERR_CONFIG_YAML', `${file}: line ${pos.line}, column ${pos.col}: not valid YAML: ${first.message.split('\n')[0] ?? first.code}`, {
      details: { file, line: pos.line, col: pos.col },
    });
  }
  const data: unknown = doc.toJS({ maxAliasCount: 100 });
  return {
    file,
    data,
    lineOf(path) {
      for (let n = path.length; n >= 0; n--) {
        const node: unknown = doc.getIn(path.slice(0, n), true);
        if (isNode(node) && node.range) return lineCounter.linePos(node.range[0]).line;
      }
      return undefined;
    },
  };
}

/** Reads and parses a YAML file; a missing file throws GW_ERR_CONFIG_READ. */
export function readYaml(file: string): YamlFile {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (cause) {
    const reason = (cause as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (cause as Error).message;
    throw new GatewayError('GW_ERR_CONFIG_READ', `${file}: cannot read: ${reason}`, { cause, details: { file } });
  }
  return parseYaml(file, text);
}
