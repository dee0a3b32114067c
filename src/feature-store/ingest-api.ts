import type { APIGatewayProxyResult } from 'aws-lambda';
import { z } from 'zod';
import { MethodNotAllowedError, NotFoundError, ValidationError } from '../core/errors.js';
import { checkFeatureRows } from '../core/feature-store/ingest.js';
import type { OfflineFeatureLog } from '../core/feature-store/offline-store.js';
import type { OnlineFeatureStore } from '../core/feature-store/ports.js';
import type { FeatureViewCatalog } from '../core/feature-store/view-catalog.js';
import { issuesFromZod } from '../core/validation/zod-issues.js';
import { jsonResponse, readJsonBody, type HttpRequestParts } from '../serving/http.js';
import { featureRoutes } from '../serving/routes.js';
import { featureMetrics } from '../serving/telemetry-names.js';
import type { FeatureConfig } from './config.js';

export interface FeatureIngestDeps {
  readonly config: Pick<FeatureConfig, 'MAX_INGEST_ROWS' | 'MAX_BODY_BYTES' | 'FUTURE_TOLERANCE_SECONDS'>;
  readonly catalog: FeatureViewCatalog;
  readonly offline: OfflineFeatureLog;
  readonly online: OnlineFeatureStore;
  readonly now?: () => number;
}

export interface IngestMetrics {
  addDimension(name: string, value: string): void;
  addMetric(name: string, unit: 'Count', value: number): void;
}

export interface FeatureIngestRequest extends HttpRequestParts {
  readonly resource: string;
  readonly httpMethod: string;
  readonly pathParameters?: Record<string, string | undefined> | null;
}

/** Most rejected rows listed in a 400; the count is always complete. */
const MAX_LISTED_ISSUES = 100;

/**
 * `POST /v1/features/{view}` with `{"rows": [{<entity key>, event_time, <features>...}]}`.
 *
 * All or nothing: one invalid row rejects the whole batch (400, every problem counted, the first 100 listed by
 * row and field), so a producer never has to work out which half of its batch landed. A valid batch goes to
 * the offline log first (the source of truth, from which materialization can always rebuild the online store),
 * then to the online store; a row older than what the online store holds is kept offline only and counted as
 * `stale`. A retry after a failure may append the same rows to the log twice, which the point-in-time join and
 * materialization tolerate (identical rows, same event time).
 */
export async function handleFeatureIngest(deps: FeatureIngestDeps, request: FeatureIngestRequest, metrics: IngestMetrics): Promise<APIGatewayProxyResult> {
  const route = featureRoutes.find((r) => r.resource === request.resource);
  if (!route) throw new NotFoundError(`no route ${request.resource}`);
  if (route.method !== request.httpMethod) throw new MethodNotAllowedError(`${request.resource} accepts ${route.method} only`);
  const view = await deps.catalog.get(request.pathParameters?.view ?? '');
  const body = z
    .strictObject({ rows: z.array(z.unknown()).min(1).max(deps.config.MAX_INGEST_ROWS) })
    .safeParse(readJsonBody(request, deps.config.MAX_BODY_BYTES));
  if (!body.success) throw new ValidationError(issuesFromZod(body.error));
  const now = (deps.now ?? Date.now)();
  const { rows, rejected } = checkFeatureRows(view, body.data.rows, now, deps.config.FUTURE_TOLERANCE_SECONDS * 1000);
  metrics.addDimension('view', view.name);
  if (rejected.length > 0) {
    metrics.addMetric(featureMetrics.rowsRejected, 'Count', body.data.rows.length);
    throw new ValidationError(
      rejected.slice(0, MAX_LISTED_ISSUES).map((r) => ({ field: `rows[${r.row - 1}].${r.field}`, reason: r.reason })),
      `${rejected.length} of ${body.data.rows.length} rows are invalid; nothing was written`,
    );
  }
  const objects = await deps.offline.append(view, rows);
  const { written, stale } = await deps.online.write(view, rows);
  metrics.addMetric(featureMetrics.rowsIngested, 'Count', rows.length);
  return jsonResponse(200, { view: view.name, accepted: rows.length, offlineObjects: objects.length, onlineWritten: written, onlineStale: stale });
}
