import type { WindowDrift } from './check.js';
import type { QualityWindow } from './quality.js';
import type { SketchLayout } from './sketch.js';
import type { ModelDriftStatus } from './status.js';

export const DRIFT_RESULT_FORMAT = 'serverless-mlops/drift-result@1';

/**
 * One drift check of one model: what the drift-check function writes to `drift/<model>/results/` and what the
 * HTML report and `mlops drift check` show. `drift` is null when no comparison could be made (no baseline, an
 * error); `quality` is null when the version has no holdout metrics.
 */
export interface DriftCheckResult {
  readonly format: typeof DRIFT_RESULT_FORMAT;
  readonly model: string;
  /** The production version checked; null when the model has none. */
  readonly version: number | null;
  readonly checkedAt: number;
  readonly window: { readonly from: number; readonly to: number };
  readonly status: ModelDriftStatus;
  /** Drifted windows in a row, this one included. */
  readonly streak: number;
  /** Whether this check raised an alert (event + notification). */
  readonly alert: boolean;
  readonly drift: WindowDrift | null;
  readonly quality: QualityWindow | null;
  /** The bins the counts refer to (for labelling charts). */
  readonly layout: SketchLayout | null;
  /** Why the check could not run (status `error` or `no-baseline`). */
  readonly error?: string;
}
