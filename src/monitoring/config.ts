import { z } from 'zod';

/** Runtime configuration of the drift-check function (EventBridge schedule -> drift check of every model). */
export const driftConfigSchema = z.object({
  REGISTRY_TABLE: z.string().min(1, 'REGISTRY_TABLE must name the model registry table'),
  ARTIFACT_BUCKET: z.string().min(1, 'ARTIFACT_BUCKET must name the artifact bucket (sketches, captures, labels, reports)'),
  /** Length of the window a check looks at, ending at the schedule time. */
  DRIFT_WINDOW_MINUTES: z.coerce.number().positive().default(60),
  DRIFT_MIN_ROWS: z.coerce.number().int().positive().default(500),
  DRIFT_PSI_THRESHOLD: z.coerce.number().positive().default(0.1),
  DRIFT_ALPHA: z.coerce.number().positive().max(1).default(0.01),
  DRIFT_MISSING_RATE_CHANGE: z.coerce.number().positive().max(1).default(0.1),
  /** Drifted windows in a row before a model is `drifted` (and an alert is raised). */
  DRIFT_CONSECUTIVE_WINDOWS: z.coerce.number().int().positive().default(3),
  /** Hours after an alert before the same model alerts again. */
  DRIFT_COOLDOWN_HOURS: z.coerce.number().nonnegative().default(24),
  /** Window (hours) of labelled predictions the quality check uses. */
  QUALITY_WINDOW_HOURS: z.coerce.number().int().positive().default(24),
  QUALITY_MIN_LABELS: z.coerce.number().int().positive().default(200),
  QUALITY_MAX_AUC_DROP: z.coerce.number().nonnegative().default(0.05),
  /** Event bus the drift and quality alerts go to (for subscribers; retraining starts on the alarms); default bus if unset. */
  ALERT_EVENT_BUS_NAME: z.string().min(1).optional(),
});

export type DriftConfig = z.infer<typeof driftConfigSchema>;
