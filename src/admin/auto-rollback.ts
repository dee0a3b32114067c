import { z } from 'zod';
import type { RegistryService } from '../core/registry/registry-service.js';
import { modelOfCanaryAlarm } from '../serving/telemetry-names.js';

/** The `detail` of an EventBridge "CloudWatch Alarm State Change" event (the fields we read). */
export const alarmStateChangeDetailSchema = z.object({
  alarmName: z.string(),
  state: z.object({ value: z.enum(['OK', 'ALARM', 'INSUFFICIENT_DATA']), reason: z.string().optional(), timestamp: z.string().optional() }),
  previousState: z.object({ value: z.string() }).loose().optional(),
});

export type AlarmStateChange = z.infer<typeof alarmStateChangeDetailSchema>;

export type RollbackOutcome =
  | { readonly action: 'aborted-canary'; readonly model: string; readonly canaryVersion: number; readonly revision: number }
  | { readonly action: 'none'; readonly reason: string; readonly model?: string };

/**
 * A canary alarm went off: end the canary of the model it watches, with the same registry code the CLI uses.
 * Anything else (not ALARM, not our alarm, no canary) is a no-op with a reason.
 */
export async function rollbackOnAlarm(service: RegistryService, alarmPrefix: string, detail: AlarmStateChange): Promise<RollbackOutcome> {
  if (detail.state.value !== 'ALARM') return { action: 'none', reason: `alarm state is ${detail.state.value}` };
  const model = modelOfCanaryAlarm(detail.alarmName, alarmPrefix);
  if (!model) return { action: 'none', reason: `${detail.alarmName} is not a canary alarm of this stage` };
  const before = await service.deployment(model);
  const canary = before.canary;
  const after = await service.abortCanary(model, {
    actor: 'auto-rollback',
    reason: `alarm ${detail.alarmName}: ${detail.state.reason ?? 'ALARM'}`.slice(0, 1000),
  });
  if (!after || !canary) return { action: 'none', reason: 'the model has no canary', model };
  return { action: 'aborted-canary', model, canaryVersion: canary.version, revision: after.revision };
}
