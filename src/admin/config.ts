import { z } from 'zod';

/** Runtime configuration of the admin function (registry operations over HTTP, IAM-authorized). */
export const adminConfigSchema = z.object({
  REGISTRY_TABLE: z.string().min(1, 'REGISTRY_TABLE must name the model registry table'),
  ARTIFACT_BUCKET: z.string().min(1, 'ARTIFACT_BUCKET must name the artifact bucket'),
  /** Promotion gate: most a candidate's holdout AUC may be below production's. */
  GATE_MAX_AUC_DROP: z.coerce.number().nonnegative().default(0.01),
  GATE_MAX_ACCURACY_DROP: z.coerce.number().nonnegative().default(0.01),
  GATE_MAX_LOG_LOSS_INCREASE: z.coerce.number().nonnegative().default(0.02),
  GATE_MAX_BRIER_INCREASE: z.coerce.number().nonnegative().default(0.01),
});

export type AdminConfig = z.infer<typeof adminConfigSchema>;

/** Runtime configuration of the rollback function (canary alarms -> EventBridge -> here). */
export const rollbackConfigSchema = z.object({
  REGISTRY_TABLE: z.string().min(1, 'REGISTRY_TABLE must name the model registry table'),
  /** Alarm names starting with this are canary alarms (`mlops-<stage>-canary-`). */
  CANARY_ALARM_PREFIX: z.string().min(1),
});

export type RollbackConfig = z.infer<typeof rollbackConfigSchema>;
