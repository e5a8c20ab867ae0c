/**
 * A camera event whose rule asks for a snapshot is stored with the picture of that
 * moment, which the gateway's API serves; events flow from the simulated ONVIF camera
 * through the real driver and poller.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { loadSiteConfig } from '../../gateway/src/config.js';
import { createLogger } from '../../gateway/src/core/logger.js';
import { startGateway } from '../../gateway/src/main.js';
import { startCommunity } from '../../scripts/sim/community.js';
import { until } from '../support/until.js';


t.test('camera motion → event with a stored snapshot, served by the API', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'steward-cam-'));
  const file = path.join(dir, 'site.yaml');
  const yaml = (port: number) => `site: { id: s1, name: S }
gateway: { dataDir: ./data, logLevel: silent }
devices:
  - { id: cam-1, profile: camera/onvif-camera, system: camera, connection: { protocol: onvif, url: "http://127.0.0.1:${port}", username: admin, passwordEnv: CAM_PASSWORD, pullTimeoutS: 1 } }
`;
  const env = { CAM_PASSWORD: 'cam-secret-1' };
  writeFileSync(file, yaml(1));
  const sim = await startCommunity(loadSiteConfig(file, env), { ports: { 'cam-1': 0 } });
  t.teardown(() => sim.close());
  writeFileSync(file, yaml(sim.devices[0]!.port));
  const gw = await startGateway(loadSiteConfig(file, env), { httpPort: 0, log: createLogger({ level: 'silent' }) });
  t.teardown(() => gw.close());

  await until('camera online', async () => {
    const list = (await (await fetch(`${gw.url}/api/v1/devices`)).json()) as { state: string }[];
    return list[0]?.state === 'online' ? true : undefined;
  });
  sim.onvif.devices[0]!.control.motion(500);
  const event = await until('a motion event with its snapshot', async () => {
    const list = (await (await fetch(`${gw.url}/api/v1/events?type=camera.*`)).json()) as { type: string; body: { snapshot?: { file?: string; contentType?: string; bytes?: number } } }[];
    return list.find((e) => e.type === 'camera.motion' && e.body.snapshot?.file !== undefined);
  });
  t.match(event.body.snapshot, { contentType: 'image/jpeg', file: /^[0-9a-f-]{36}\.jpg$/ });
  const res = await fetch(`${gw.url}/api/v1/snapshots/cam-1/${event.body.snapshot!.file!}`);
  t.equal(res.status, 200);
  t.equal(res.headers.get('content-type'), 'image/jpeg');
  const jpeg = Buffer.from(await res.arrayBuffer());
  t.equal(jpeg.length, event.body.snapshot!.bytes);
  t.same([...jpeg.subarray(0, 2)], [0xff, 0xd8], 'a JPEG (SOI)');
  t.same([...jpeg.subarray(-2)], [0xff, 0xd9], '… to its end (EOI)');
  t.equal((await fetch(`${gw.url}/api/v1/snapshots/cam-1/..%2F..%2Fgateway.db`)).status, 404, 'no path tricks');
});
