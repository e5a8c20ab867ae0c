/**
 * Who may do what on the gateway's MQTT bus: a user's rights from its role (the same
 * ranks as the API's logins — viewer < operator < technician < admin) narrowed by an
 * optional ACL of topic filters. Policy only: the aedes hooks in broker.ts ask these.
 *
 * The rules (docs/mqtt.md "Users and rights"):
 * - every user may subscribe to what its ACL's `subscribe` allows (default: the site's
 *   whole tree `steward/v1/<site>/#`);
 * - only operator and above may publish a `…/set` write, and only where the ACL's
 *   `publish` allows (default: every point's `…/set`) — a viewer never writes, whatever
 *   its ACL says, as on the API;
 * - nobody publishes elsewhere in the site's tree (values, events, states and results
 *   are the gateway's own); outside it, the ACL's `publish` decides (default: nothing).
 */
import type { MqttUserConfig } from '../core/config/mqtt.js';
import { filterCovers, topicMatches, type Topics } from './topics.js';

export type Role = MqttUserConfig['role'];

const RANK: Record<Role, number> = { viewer: 0, operator: 1, technician: 2, admin: 3 };

/** The rights of one connected user. */
export class Rights {
  private readonly subscribe: readonly string[];
  private readonly publish: readonly string[];
  private readonly mayWrite: boolean;

  constructor(
    readonly username: string,
    readonly role: Role,
    private readonly topics: Topics,
    acl?: { readonly subscribe: readonly string[]; readonly publish: readonly string[] },
  ) {
    this.mayWrite = RANK[role] >= RANK.operator;
    this.subscribe = acl?.subscribe ?? [`${topics.prefix}/#`];
    this.publish = acl?.publish ?? (this.mayWrite ? [`${topics.prefix}/+/+/set`] : []);
  }

  /** May this user publish on `topic`? A `…/set` also needs operator or above. */
  canPublish(topic: string): boolean {
    if (this.topics.owns(topic)) {
      if (this.topics.parseSet(topic) === undefined || !this.mayWrite) return false;
    }
    return this.publish.some((f) => topicMatches(f, topic));
  }

  /** May this user subscribe with `filter` (every topic it can match must be allowed)? */
  canSubscribe(filter: string): boolean {
    return this.subscribe.some((f) => filterCovers(f, filter));
  }
}
