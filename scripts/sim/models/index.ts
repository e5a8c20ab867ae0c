/**
 * Which model drives a device: a specific one keyed by profile id, else the generic
 * model (so any profile can be simulated).
 */
import { createAccessControllerModel } from './access-controller.js';
import { createBreakerModel } from './breaker.js';
import { createFirePanelModel } from './fire-panel.js';
import { createGenericModel } from './generic.js';
import { createLightingControllerModel } from './lighting-controller.js';
import type { ModelContext, ModelFactory, SignalModel } from './model.js';
import { createPowerMeterModel } from './power-meter.js';
import { createTractionElevatorModel } from './traction-elevator.js';
import { createVfdPumpModel } from './vfd-pump.js';

export const MODELS: Readonly<Record<string, ModelFactory>> = {
  'water/vfd-pump': createVfdPumpModel,
  'elevator/traction-elevator': createTractionElevatorModel,
  'power/power-meter': createPowerMeterModel,
  'power/breaker': createBreakerModel,
  'lighting/lighting-controller': createLightingControllerModel,
  'fire/fire-panel': createFirePanelModel,
  'access/access-controller': createAccessControllerModel,
};

export function createModel(ctx: ModelContext): SignalModel {
  const factory = MODELS[ctx.io.profile.id] ?? ((c: ModelContext) => createGenericModel(c));
  return factory(ctx);
}

export type { ModelContext, ModelFaults, SignalModel } from './model.js';
