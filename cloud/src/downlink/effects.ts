/**
 * What a transaction did that others must hear about once it commits: gateways whose
 * downlink feed grew (to wake their long-polls) and webhook deliveries queued (to kick the
 * delivery worker). Collected inside the transaction, acted on after the commit — never
 * before, or a woken poll could read nothing yet.
 */
export class Effects {
  readonly gateways = new Set<string>();
  webhooks = 0;
}
