/**
 * Which model drives a device: a specific one keyed by profile id, else the generic
 * model (so any profile can be simulated).
 */
import { createGenericModel } from './generic.js';
import type { ModelContext, ModelFactory, SignalModel } from './model.js';
import { createVfdPumpModel } from './vfd-pump.js';

export const MODELS: Readonly<Record<string, ModelFactory>> = {
  'water/vfd-pump': createVfdPumpModel,
};

export function createModel(ctx: ModelContext): SignalModel {
  const factory = MODELS[ctx.io.profile.id] ?? ((c: ModelContext) => createGenericModel(c));
  return factory(ctx);
}

export type { ModelContext, ModelFaults, SignalModel } from './model.js';
