/**
 * The ML runtime end to end with the committed pump models, in its worker thread: a
 * simulated pump with bearing wear yields `failure.predicted` before the bearing fails; a
 * pressure loss yields `anomaly.detected` naming the points; scores are the training
 * script's scores; a device without the models' points is refused, not crashed; a shadow
 * version scores without emitting.
 */
import { cpSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import * as tfl from '@tensorflow/tfjs-layers';
import type { Reading } from '../../src/core/model.js';
import { selectBackend } from '../../src/ml/backend.js';
import { fileLoadHandler } from '../../src/ml/file-io.js';
import { MlRuntime, type MlEvent } from '../../src/ml/runtime.js';
import { PUMP_INPUTS, simulatePump, type PumpRun } from '../../../scripts/ml/pump/simulate.js';
import { reconstructionErrors, windowsOf } from '../../../scripts/ml/pump/train.js';

const modelsDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../models');
const pumpPoints = [...PUMP_INPUTS, 'run_hours', 'running'];

async function feed(rt: MlRuntime, device: string, run: PumpRun): Promise<void> {
  for (let s = 0; s < run.rows.length; s++) {
    const readings: Reading[] = run.rows[s]!.map((v, i) => ({ point: `${device}.${PUMP_INPUTS[i]}`, ts: run.ts[s]!, value: v, quality: 'good' }));
    rt.readings(device, readings);
    await rt.step(run.ts[s]!);
  }
}

t.test('bearing wear: failure.predicted before the bearing fails, with a horizon', async (t) => {
  const events: MlEvent[] = [];
  const rt = await MlRuntime.start({ modelsDir, devices: [{ id: 'pump-1', profile: 'water/vfd-pump', points: pumpPoints, models: ['pump-anomaly', 'pump-rul'] }], sink: (e) => events.push(e), timer: false });
  t.teardown(() => rt.close());
  t.equal(rt.backend, 'wasm');
  const run = simulatePump({ seed: 4242, device: 'pump-1', startMs: Date.UTC(2024, 5, 3), hours: 0.5 + 1.05 / 1, stepSeconds: 10, fault: { name: 'bearing-wear', value: 1, afterHours: 0.5 } });
  await feed(rt, 'pump-1', run);
  const failure = events.find((e) => e.type === 'failure.predicted');
  t.ok(failure, 'a failure was predicted');
  const failedTs = run.ts[run.failedAt]!;
  t.ok(failure!.ts < failedTs, `predicted ${((failedTs - failure!.ts) / 3_600_000).toFixed(2)} h before the failure`);
  t.ok(failure!.ts > run.ts[run.faultAt]!, 'not before the wear began');
  t.match(failure!.body, { model: 'pump-rul', horizonHours: Number, confidence: Number });
  t.equal(events.filter((e) => e.type === 'failure.predicted').length, 1, 'one prediction for one episode');
  t.ok(rt.metrics().ml_windows_scored_total! > 0);
});

t.test('pressure loss: anomaly.detected with contributing points; the score is the training script\'s', async (t) => {
  const events: MlEvent[] = [];
  const rt = await MlRuntime.start({ modelsDir, devices: [{ id: 'pump-2', profile: 'water/vfd-pump', points: pumpPoints, models: ['pump-anomaly'] }], sink: (e) => events.push(e), timer: false });
  t.teardown(() => rt.close());
  const run = simulatePump({ seed: 77, device: 'pump-2', startMs: Date.UTC(2024, 5, 4, 2), hours: 0.5, stepSeconds: 10, fault: { name: 'pressure-loss', value: 0.5, afterHours: 0.3 } });
  await feed(rt, 'pump-2', run);
  const a = events.find((e) => e.type === 'anomaly.detected');
  t.ok(a, 'an anomaly was detected');
  t.ok(a!.ts >= run.ts[run.faultAt]!, 'after the fault began');
  const body = a!.body as { score: number; threshold: number; contributing: { point: string }[] };
  t.ok(body.score > body.threshold);
  t.ok(body.contributing.length > 0 && body.contributing.every((c) => (PUMP_INPUTS as readonly string[]).includes(c.point)));
  // The same window scored in this thread by the training script's function.
  await selectBackend(undefined, 'wasm');
  const ae = await tfl.loadLayersModel(fileLoadHandler(path.join(modelsDir, 'pump-anomaly')));
  const m = (await import('../../src/ml/registry.js')).readManifest(modelsDir, 'pump-anomaly');
  if (m.normalisation.kind !== 'zscore') throw new Error('z-scored');
  const end = run.ts.indexOf(a!.ts) + 1;
  const w = windowsOf(run, m.normalisation.mean, m.normalisation.std, 1, end - 12, end);
  const expected = reconstructionErrors(ae, w.x).score[0]!;
  t.ok(Math.abs(expected - body.score) < 1e-4, `runtime ${body.score.toFixed(6)} = training script ${expected.toFixed(6)}`);
});

t.test('a device without the points is refused; a shadow version scores but does not emit', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'steward-ml-rt-'));
  cpSync(path.join(modelsDir, 'pump-anomaly'), path.join(dir, 'pump-anomaly'), { recursive: true });
  cpSync(path.join(modelsDir, 'pump-anomaly'), path.join(dir, 'pump-anomaly@1.0.0'), { recursive: true });
  const events: MlEvent[] = [];
  const rt = await MlRuntime.start({
    modelsDir: dir,
    devices: [
      { id: 'pump-3', profile: 'water/vfd-pump', points: pumpPoints, models: ['pump-anomaly'] },
      { id: 'meter-1', profile: 'power/power-meter', points: ['voltage'], models: ['pump-anomaly'] },
    ],
    shadow: { 'pump-anomaly': 'pump-anomaly@1.0.0' },
    sink: (e) => events.push(e),
    timer: false,
  });
  t.teardown(() => rt.close());
  t.match(rt.refused, [{ device: 'meter-1', code: 'GW_ERR_ML_POINTS' }, { device: 'meter-1', code: 'GW_ERR_ML_POINTS' }]);
  const run = simulatePump({ seed: 78, device: 'pump-3', startMs: Date.UTC(2024, 5, 4, 2), hours: 0.5, stepSeconds: 10, fault: { name: 'pressure-loss', value: 0.5, afterHours: 0.3 } });
  await feed(rt, 'pump-3', run);
  const emitted = events.filter((e) => e.type === 'anomaly.detected').length;
  t.ok(emitted >= 1);
  t.equal(rt.metrics().ml_shadow_decisions_total, emitted, 'the shadow made the same decisions, none emitted');
  t.ok(Object.keys(rt.metrics()).some((k) => k.startsWith('ml_drift_z_pump_anomaly_')), 'drift gauges per input');
});
