/**
 * `steward ml eval pump`: the committed pump models against simulated faults they were not
 * trained on (other seeds, other days), through the runtime's own decision logic
 * (gateway/src/ml/decide.ts):
 * - false alarms per device-day on normal operation;
 * - for each injected fault kind (bearing wear at several rates, pressure loss): detection
 *   rate, and lead time = failure time − first alert (bearing wear; failure = wear 1), or
 *   delay = first alert − fault onset (pressure loss).
 */
import * as tf from '@tensorflow/tfjs-core';
import { selectBackend } from '../../../gateway/src/ml/backend.js';
import { AnomalyDecider, FailureDecider } from '../../../gateway/src/ml/decide.js';
import { loadModel } from '../../../gateway/src/ml/registry.js';
import { PUMP_INPUTS, simulatePump, type PumpRun } from './simulate.js';
import { MODELS_DIR, normalRuns, PUMP_STEP_S, PUMP_WINDOW } from './train.js';

interface Alerts {
  anomaly: number[];
  failure: { at: number; horizonHours: number }[];
}

async function scoreRun(run: PumpRun): Promise<Alerts> {
  const anomaly = await loadModel(MODELS_DIR, 'pump-anomaly');
  const failure = await loadModel(MODELS_DIR, 'pump-rul');
  const a = new AnomalyDecider(anomaly.manifest);
  const f = new FailureDecider(failure.manifest);
  const n = PUMP_INPUTS.length;
  const dim = PUMP_WINDOW * n;
  const ends: number[] = [];
  for (let end = PUMP_WINDOW; end <= run.rows.length; end++) ends.push(end);
  const x = new Float32Array(ends.length * dim);
  const norm = anomaly.manifest.normalisation;
  if (norm.kind !== 'zscore') throw new Error('pump models are z-scored');
  ends.forEach((end, w) => {
    for (let k = 0; k < PUMP_WINDOW; k++) for (let i = 0; i < n; i++) x[w * dim + k * n + i] = (run.rows[end - PUMP_WINDOW + k]![i]! - norm.mean[i]!) / (norm.std[i]! || 1);
  });
  const [recon, wear] = tf.tidy(() => {
    const t = tf.tensor2d(x, [ends.length, dim]);
    const out = anomaly.model.predict(t) as tf.Tensor;
    const err = tf.mean(tf.reshape(tf.square(tf.sub(out, t)), [ends.length, PUMP_WINDOW, n]), 1);
    return [err.arraySync() as number[][], Array.from((failure.model.predict(t) as tf.Tensor).dataSync())];
  });
  anomaly.model.dispose();
  failure.model.dispose();
  const alerts: Alerts = { anomaly: [], failure: [] };
  ends.forEach((end, w) => {
    const ts = run.ts[end - 1]!;
    const ad = a.update(recon[w]!, ts);
    if (ad !== null) alerts.anomaly.push(end - 1);
    const fd = f.update(wear[w]!, ts);
    if (fd !== null) alerts.failure.push({ at: end - 1, horizonHours: fd.horizonHours });
  });
  return alerts;
}

export interface PumpEvaluation {
  readonly normalDeviceDays: number;
  readonly anomalyFalseAlarmsPerDay: number;
  readonly failureFalseAlarmsPerDay: number;
  readonly faults: { kind: string; runs: number; detected: number; anomalyDetected: number; meanLeadHours: number; minLeadHours: number; meanDelayMin: number }[];
}

export async function evaluatePump(log: (l: string) => void): Promise<PumpEvaluation> {
  await selectBackend(undefined, 'wasm');
  const days = 2;
  const normals = normalRuns(900, 3, days, 20);
  let aFalse = 0;
  let fFalse = 0;
  for (const r of normals) {
    const al = await scoreRun(r);
    aFalse += al.anomaly.length;
    fFalse += al.failure.length;
  }
  log(`normal: ${normals.length} pumps × ${days} days: ${aFalse} anomaly alerts, ${fFalse} failure predictions`);
  const faults: PumpEvaluation['faults'][number][] = [];
  const T0 = Date.UTC(2024, 2, 1);
  for (const rate of [0.1, 0.25, 0.5]) {
    const leads: number[] = [];
    let anomalyDetected = 0;
    const runs = 3;
    for (let i = 0; i < runs; i++) {
      const onset = 3;
      const r = simulatePump({ seed: 500 + i * 17 + rate * 100, device: `eval-${i}`, startMs: T0 + i * 86_400_000 + i * 5_400_000, hours: onset + 1.05 / rate, stepSeconds: PUMP_STEP_S, fault: { name: 'bearing-wear', value: rate, afterHours: onset } });
      const al = await scoreRun(r);
      const first = al.failure.find((x) => x.at >= r.faultAt);
      if (al.anomaly.some((x) => x >= r.faultAt)) anomalyDetected++;
      if (first !== undefined && r.failedAt > 0 && first.at < r.failedAt) leads.push(((r.failedAt - first.at) * PUMP_STEP_S) / 3600);
    }
    faults.push({ kind: `bearing-wear ${rate}/h`, runs, detected: leads.length, anomalyDetected, meanLeadHours: leads.length ? leads.reduce((a, b) => a + b, 0) / leads.length : 0, minLeadHours: leads.length ? Math.min(...leads) : 0, meanDelayMin: 0 });
    log(`bearing-wear ${rate}/h: ${leads.length}/${runs} predicted before failure`);
  }
  {
    const delays: number[] = [];
    const runs = 3;
    for (let i = 0; i < runs; i++) {
      const r = simulatePump({ seed: 700 + i, device: `eval-pl-${i}`, startMs: T0 + i * 86_400_000 + 9 * 3_600_000, hours: 4, stepSeconds: PUMP_STEP_S, fault: { name: 'pressure-loss', value: 0.5, afterHours: 3 } });
      const al = await scoreRun(r);
      const first = al.anomaly.find((x) => x >= r.faultAt);
      if (first !== undefined) delays.push(((first - r.faultAt) * PUMP_STEP_S) / 60);
    }
    faults.push({ kind: 'pressure-loss 0.5', runs, detected: delays.length, anomalyDetected: delays.length, meanLeadHours: 0, minLeadHours: 0, meanDelayMin: delays.length ? delays.reduce((a, b) => a + b, 0) / delays.length : 0 });
  }
  const deviceDays = normals.length * days;
  return { normalDeviceDays: deviceDays, anomalyFalseAlarmsPerDay: aFalse / deviceDays, failureFalseAlarmsPerDay: fFalse / deviceDays, faults };
}

export function formatPumpEval(e: PumpEvaluation): string {
  const lines = [
    `normal operation: ${e.normalDeviceDays} device-days; false alarms per device-day: anomaly ${e.anomalyFalseAlarmsPerDay.toFixed(2)}, failure ${e.failureFalseAlarmsPerDay.toFixed(2)}`,
    '',
    'fault                 runs  failure.predicted before failure  anomaly.detected  mean lead (h)  min lead (h)  mean delay (min)',
  ];
  for (const f of e.faults) {
    lines.push(`${f.kind.padEnd(20)}  ${String(f.runs).padStart(4)}  ${`${f.detected}/${f.runs}`.padStart(32)}  ${`${f.anomalyDetected}/${f.runs}`.padStart(16)}  ${f.meanLeadHours.toFixed(2).padStart(13)}  ${f.minLeadHours.toFixed(2).padStart(12)}  ${f.meanDelayMin.toFixed(1).padStart(16)}`);
  }
  return lines.join('\n');
}

