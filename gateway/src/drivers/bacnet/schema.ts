/**
 * What the BACnet driver owns of the configuration (CONVENTIONS §5): the `bacnet-ip`
 * connection block, a point's BACnet keys (`object`, `property`, `cov`, `arrayIndex`,
 * `priority`, gathered by the loader into `point.address`) and the profile's `bacnet:`
 * block. Checked at load, never at read time.
 */
import { Type, type Static } from 'typebox';
import type { ProtocolSchemas } from '../../core/config/load.js';
import type { PathIssue } from '../../core/config/issues.js';
import type { PointSpec } from '../../core/config/profile.js';
import { COMMANDABLE, INPUTS, MAX_INSTANCE, OBJECT_TYPE_NAMES, PROPERTY_NAMES, type ObjectTypeName, type PropertyName } from './names.js';

/** Annex J.1: UDP port 47808 (0xBAC0) is BACnet/IP's. */
export const BACNET_PORT = 47808;
/** §19.2.1.1 / Table 19-1: priority 8 is "manual operator", the level of a control-room command. */
export const DEFAULT_WRITE_PRIORITY = 8;

export const BacnetIpConnection = Type.Object(
  {
    protocol: Type.Literal('bacnet-ip'),
    /** The device's IP address (BACnet/IP unicast; no broadcast is ever sent for a configured device). */
    host: Type.String({ minLength: 1, maxLength: 253, 'x-expect': 'an IPv4 address or host name' }),
    port: Type.Integer({ minimum: 1, maximum: 65535, default: BACNET_PORT }),
    /** The device object's instance number (§12.11.1 Object_Identifier), 0–4194302. */
    deviceInstance: Type.Integer({ minimum: 0, maximum: MAX_INSTANCE }),
    /** Time to wait for each confirmed request's answer (APDU_Timeout, §12.11.27), ms. */
    timeoutMs: Type.Integer({ minimum: 50, maximum: 60_000, default: 3000 }),
    /**
     * The gateway's own UDP port for this device. 0 (default) = an ephemeral port, shared by
     * every device that also says 0; 47808 only when the site requires it (a device that
     * answers to 47808 only, or one behind a BBMD that expects it).
     */
    localPort: Type.Integer({ minimum: 0, maximum: 65535, default: 0 }),
    /** Lifetime asked for in SubscribeCOV (§13.14.1.1.4), s; renewed at 80 % of it. */
    covLifetimeS: Type.Integer({ minimum: 10, maximum: 86_400, default: 300 }),
    /** Largest APDU the device accepts (Max_APDU_Length_Accepted, §12.11.19), octets; default 1476 (BACnet/IP). */
    maxApduLength: Type.Optional(Type.Integer({ minimum: 50, maximum: 1476 })),
    /**
     * Register as a foreign device (Annex J.5.2) with this BBMD on the device's subnet, when
     * the gateway is on another one: Who-Is then goes as Distribute-Broadcast-To-Network
     * through it, and I-Am comes back forwarded. Requests to the device stay unicast.
     */
    bbmd: Type.Optional(
      Type.Object(
        {
          host: Type.String({ minLength: 1, maxLength: 253, 'x-expect': 'the IPv4 address of the BBMD' }),
          port: Type.Integer({ minimum: 1, maximum: 65535, default: BACNET_PORT }),
          /** Time-to-live asked for (J.5.2.1), s; registered again at 80 % of it. */
          ttlS: Type.Integer({ minimum: 10, maximum: 65535, default: 600 }),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);
export type BacnetIpConnection = Static<typeof BacnetIpConnection>;

export const BacnetObjectType = Type.Enum(OBJECT_TYPE_NAMES, { 'x-expect': `a BACnet object type (${OBJECT_TYPE_NAMES.slice(0, 9).join(', ')}, …)` });

export const BacnetAddress = Type.Object(
  {
    object: Type.Object(
      {
        type: BacnetObjectType,
        instance: Type.Integer({ minimum: 0, maximum: MAX_INSTANCE }),
      },
      { additionalProperties: false },
    ),
    /** A property name (`present-value`, `units`, …) or its number for one without a name here. */
    property: Type.Union([Type.Enum(PROPERTY_NAMES), Type.Integer({ minimum: 0, maximum: 4_194_303 })], {
      default: 'present-value',
      'x-expect': 'a BACnet property name such as present-value, or its number',
    }),
    /** Ask the device to push changes (SubscribeCOV, §13.14) instead of polling. */
    cov: Type.Boolean({ default: false }),
    /** One element of an array property (1-based; 0 reads the array's size, §15.5.1.1.3). */
    arrayIndex: Type.Optional(Type.Integer({ minimum: 0, maximum: 4_294_967_294 })),
    /** Write priority, 1 (highest) – 16 (§19.2.1); default 8, manual operator. */
    priority: Type.Optional(Type.Integer({ minimum: 1, maximum: 16 })),
  },
  { additionalProperties: false },
);
export type BacnetAddress = Static<typeof BacnetAddress> & { object: { type: ObjectTypeName }; property: PropertyName | number };

export const BacnetOptions = Type.Object(
  {
    /** Most properties in one ReadPropertyMultiple (§15.7); many controllers cope with 20–50. */
    maxPropertiesPerRequest: Type.Integer({ minimum: 1, maximum: 200, default: 20 }),
    /** Use ReadPropertyMultiple; false = one ReadProperty per point (devices without RPM). */
    readMultiple: Type.Boolean({ default: true }),
  },
  { additionalProperties: false },
);
export type BacnetOptions = Static<typeof BacnetOptions>;

const FLOATS = ['float32', 'float64'];
const UNSIGNED = ['uint16', 'uint32', 'uint64'];
const SIGNED = ['int16', 'int32', 'int64'];

/** The data types a present-value of each object family can hold. */
function presentValueTypes(type: ObjectTypeName): readonly string[] | undefined {
  if (type.startsWith('analog-') || type === 'large-analog-value' || type === 'averaging') return FLOATS;
  if (type.startsWith('binary-')) return ['bool'];
  if (type.startsWith('multi-state-')) return UNSIGNED;
  if (type === 'integer-value') return SIGNED;
  if (type === 'positive-integer-value' || type === 'accumulator') return UNSIGNED;
  if (type === 'pulse-converter') return FLOATS;
  if (type === 'characterstring-value') return ['string'];
  return undefined;
}

const article = (word: string) => (/^[aeiou]/.test(word) ? 'an' : 'a');

/** Cross-field checks of one point (paths relative to the point). */
export function checkBacnetPoint(point: PointSpec, _options: Readonly<Record<string, unknown>>): PathIssue[] {
  const issues: PathIssue[] = [];
  const address = point.address as unknown as BacnetAddress;
  const { type } = address.object;
  const pv = address.property === 'present-value';
  if (type === 'device' && pv) issues.push({ path: ['property'], message: 'a device object has no present-value: name a property such as system-status' });
  if (pv) {
    const allowed = presentValueTypes(type);
    if (allowed !== undefined && !allowed.includes(point.type)) {
      issues.push({ path: ['type'], message: `must be ${allowed.join(' or ')} for the present-value of ${article(type)} ${type}, got ${point.type}` });
    }
    if (point.access === 'rw' && INPUTS.has(type)) {
      issues.push({ path: ['access'], message: `must be r: the present-value of ${article(type)} ${type} is written by the device, not by clients (§12: writable only out of service)` });
    }
  }
  if (address.cov && !pv) issues.push({ path: ['cov'], message: `only applies to present-value (SubscribeCOV reports present-value and status-flags), but property is ${String(address.property)}` });
  if (address.priority !== undefined && point.access !== 'rw') issues.push({ path: ['priority'], message: 'only applies to writable points (access: rw)' });
  if (address.priority !== undefined && !(pv && COMMANDABLE.has(type))) {
    issues.push({ path: ['priority'], message: `only applies to the present-value of a commandable object (outputs and values, §19.2), not ${type} ${String(address.property)}` });
  }
  if (address.priority === 6) issues.push({ path: ['priority'], message: 'must not be 6: priority 6 is reserved for minimum on/off time (§19.2.3)' });
  return issues;
}

/** For the lead's registry (schemas.ts): the connection protocols this driver serves. */
export const bacnetConnectionSchemas: ProtocolSchemas['connections'] = {
  'bacnet-ip': { profileProtocol: 'bacnet', schema: BacnetIpConnection },
};

/** For the lead's registry (schemas.ts): the `bacnet` profile protocol. */
export const bacnetProfileSchemas: ProtocolSchemas['profiles'] = {
  bacnet: {
    address: BacnetAddress,
    options: BacnetOptions,
    checkPoint: checkBacnetPoint,
    addressKeys: ['object', 'property', 'cov', 'arrayIndex', 'priority'],
  },
};
