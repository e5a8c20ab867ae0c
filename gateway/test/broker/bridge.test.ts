/**
 * The bridge to an upstream broker holds what it cannot send within its bounds — events
 * in order, alarms the last to be dropped; one latest value per point — and sends it,
 * events first, under the upstream prefix once the upstream broker is reachable; the
 * upstream sees the gateway's `$state` go online, then offline when it stops.
 */
import { createServer } from 'node:net';
import { Aedes } from 'aedes';
import t from 'tap';
import { verifyPassword } from '../../src/api/auth.js';
import { Broker } from '../../src/broker/broker.js';
import { createLogger } from '../../src/core/logger.js';
import type { GatewayEvent } from '../../src/core/model.js';
import { freePort } from '../../../test/support/ports.js';
import { until } from '../../../test/support/until.js';

const event = (type: string, n: number): GatewayEvent => ({ id: `e${n}`, ts: n, site: 's1', device: 'pump-1', type, severity: 'info', body: { n } });

// The broker in the calling thread, and in its worker thread (gateway.mqtt.worker), where the bridge runs too.
for (const worker of [false, true]) t.test(`events and values wait for the upstream within their bounds, then go in order${worker ? ' (broker in a worker thread)' : ''}`, async (t) => {
  const upstreamPort = await freePort();
  const broker = await Broker.start({
    site: 's1',
    config: {
      host: '127.0.0.1',
      port: 0,
      enabled: true,
      allowAnonymous: false,
      gatewayUsers: false,
      maxPayloadBytes: 65536,
      users: [],
      bridge: {
        url: `mqtt://127.0.0.1:${upstreamPort}`,
        username: 'garden-1',
        password: 'upstream-pass',
        topicPrefix: 'company/garden-1',
        events: true,
        telemetry: true,
        qos: 1,
        maxQueuedEvents: 3,
        maxQueuedValues: 2,
        reconnectPeriodMs: 200,
        keepaliveS: 30,
      },
    },
    gatewayUsers: [],
    verifyPassword: (secret, password) => verifyPassword({ name: '', role: 'viewer', ...secret }, password),
    writePoint: () => Promise.reject(new Error('no writes here')),
    log: createLogger({ level: 'silent' }),
    worker,
  });
  t.teardown(() => broker.close());
  const bridge = broker.bridge!;

  // The upstream is down: five events, the second an alarm, into a queue of three.
  broker.publishEvent(event('buffer.evicted', 1));
  broker.publishEvent(event('alarm.raised', 2));
  broker.publishEvent(event('camera.motion', 3));
  broker.publishEvent(event('camera.motion', 4));
  broker.publishEvent(event('alarm.cleared', 5));
  // Values: one per point, the newest kept; a third point does not fit.
  broker.publishReadings('pump-1', [{ point: 'pump-1.outlet_pressure', ts: 1, value: 3, quality: 'good' }]);
  broker.publishReadings('pump-1', [{ point: 'pump-1.outlet_pressure', ts: 2, value: 3.5, quality: 'good' }]);
  broker.publishReadings('pump-1', [{ point: 'pump-1.flow', ts: 2, value: 10, quality: 'good' }]);
  broker.publishReadings('pump-1', [{ point: 'pump-1.frequency', ts: 2, value: 50, quality: 'good' }]);
  await broker.settled();
  t.match(bridge.stats(), { connected: false, queuedEvents: 3, droppedEvents: 2, queuedValues: 2, droppedValues: 1 });

  // The upstream comes up (it needs the bridge's login).
  const upstream = await Aedes.createBroker({
    authenticate: (_c, username, password, done) => done(null, username === 'garden-1' && password?.toString() === 'upstream-pass'),
  });
  const received: { topic: string; payload: string; retain: boolean }[] = [];
  upstream.on('publish', (packet, client) => {
    if (client !== null && client !== undefined) received.push({ topic: packet.topic, payload: packet.payload.toString(), retain: packet.retain });
  });
  const server = createServer(upstream.handle);
  await new Promise<void>((r) => server.listen(upstreamPort, '127.0.0.1', r));
  t.teardown(async () => {
    await new Promise<void>((r) => upstream.close(() => r()));
    await new Promise<void>((r) => server.close(() => r()));
  });

  await until('the queue drained', () => bridge.stats().connected && received.length >= 1 + 3 + 2);
  // (The upstream handles QoS 0 before QoS 1 of one read, so only the order within a kind is checked.)
  t.ok(received.some((m) => m.topic === 'company/garden-1/$state' && m.payload === 'online' && m.retain), 'the upstream sees the gateway online (retained)');
  const events = received.filter((m) => m.topic.includes('/events/'));
  t.same(
    events.map((m) => [m.topic, (JSON.parse(m.payload) as GatewayEvent).id]),
    [
      ['company/garden-1/events/alarm.raised', 'e2'],
      ['company/garden-1/events/camera.motion', 'e4'],
      ['company/garden-1/events/alarm.cleared', 'e5'],
    ],
    'the oldest non-alarm events were dropped; the alarm stayed; order kept',
  );
  const values = received.filter((m) => m.topic.startsWith('company/garden-1/pump-1/'));
  t.same(
    values.map((m) => [m.topic, JSON.parse(m.payload), m.retain]),
    [
      ['company/garden-1/pump-1/outlet_pressure', { v: 3.5, ts: 2, q: 'good' }, true],
      ['company/garden-1/pump-1/flow', { v: 10, ts: 2, q: 'good' }, true],
    ],
    'the newest value of each point, retained',
  );

  // Connected: sent at once.
  broker.publishEvent(event('alarm.acked', 6));
  await until('live event', () => received.some((m) => m.topic === 'company/garden-1/events/alarm.acked'));

  // Stopping says offline upstream.
  await broker.close();
  await until('offline', () => received.some((m) => m.topic === 'company/garden-1/$state' && m.payload === 'offline'));
  t.pass('the upstream saw the gateway go offline');
});
