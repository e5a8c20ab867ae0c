/**
 * XML in and out for the ONVIF driver: a strict parse (fast-xml-parser, validated first,
 * since the parser alone accepts unbalanced tags) into a namespace-stripped tree, small
 * typed accessors over that tree, and escaping for the requests we build.
 *
 * Namespace prefixes are dropped from element and attribute names: ONVIF answers are
 * matched by local name (`Envelope/Body/GetDeviceInformationResponse`), which is what
 * every tolerant ONVIF client does, since devices pick their own prefixes.
 */
import { XMLParser, XMLValidator } from 'fast-xml-parser';

/** A parsed element: attributes under `@name`, text under `#text`, children by local name. */
export type XmlNode = { readonly [key: string]: XmlValue };
export type XmlValue = string | XmlNode | readonly XmlValue[];

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@',
  removeNSPrefix: true,
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: true,
  processEntities: true,
});

/** Parses `xml`; throws an Error with line and column when it is not well-formed. */
export function parseXml(xml: string): XmlNode {
  const valid = XMLValidator.validate(xml);
  if (valid !== true) throw new Error(`not well-formed XML: ${valid.err.msg} (line ${valid.err.line}, column ${valid.err.col})`);
  const tree: unknown = parser.parse(xml);
  if (typeof tree !== 'object' || tree === null) throw new Error('not an XML document');
  return tree as XmlNode;
}

function isNode(v: XmlValue | undefined): v is XmlNode {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** All children named `name` (an element repeated or not is the same to the caller). */
export function children(node: XmlValue | undefined, name: string): XmlValue[] {
  if (!isNode(node)) return [];
  const v = node[name];
  if (v === undefined) return [];
  return Array.isArray(v) ? [...(v as readonly XmlValue[])] : [v as XmlValue];
}

/** The first child named `name`. */
export function child(node: XmlValue | undefined, name: string): XmlValue | undefined {
  return children(node, name)[0];
}

/** Follows a path of local names, taking the first match at each step. */
export function at(node: XmlValue | undefined, ...path: string[]): XmlValue | undefined {
  let cur = node;
  for (const name of path) cur = child(cur, name);
  return cur;
}

/** Text content of an element (`''` for an empty one, undefined for none). */
export function text(node: XmlValue | undefined): string | undefined {
  if (typeof node === 'string') return node;
  if (isNode(node)) {
    const t = node['#text'];
    return typeof t === 'string' ? t : '';
  }
  return undefined;
}

/** An attribute, by local name. */
export function attr(node: XmlValue | undefined, name: string): string | undefined {
  if (!isNode(node)) return undefined;
  const v = node[`@${name}`];
  return typeof v === 'string' ? v : undefined;
}

/** The names of an element's child elements, in document order (attributes and text left out). */
export function childNames(node: XmlValue | undefined): string[] {
  if (!isNode(node)) return [];
  return Object.keys(node).filter((k) => !k.startsWith('@') && k !== '#text');
}

/** Escapes text for an element or an attribute value. */
export function escapeXml(s: string): string {
  return s.replace(/[<>&'"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c]!);
}
