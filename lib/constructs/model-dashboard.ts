import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { Construct } from 'constructs';
import {
  dimensions,
  DRIFT_SERVICE,
  driftMetrics,
  METRICS_NAMESPACE,
  PREDICT_SERVICE,
  predictMetrics,
  type Variant,
} from '../../src/serving/telemetry-names.js';
import { SERVICE_DIMENSION } from './canary-rollback.js';

const VARIANTS: readonly Variant[] = ['production', 'canary'];
/** Serving graphs: one point per 5 minutes over the default day. */
const SERVING_PERIOD = Duration.minutes(5);
const FULL_WIDTH = 24;
const HALF_WIDTH = 12;
const HEIGHT = 6;
/** Features listed by the "top drifting features" graph. */
export const TOP_DRIFTING_FEATURES = 10;

/**
 * The Metrics Insights query ranking a model's features by their largest PSI over the graph's period. The
 * schema lists exactly the dimensions the drift-check function gives FeatureDriftPsi (service, model, feature).
 */
export function topDriftingFeaturesQuery(model: string, limit = TOP_DRIFTING_FEATURES): string {
  const name = driftMetrics.featurePsi;
  return (
    `SELECT MAX(${name}) FROM SCHEMA("${METRICS_NAMESPACE}", ${dimensions.feature}, ${dimensions.model}, ${SERVICE_DIMENSION}) ` +
    `WHERE ${dimensions.model} = '${model}' GROUP BY ${dimensions.feature} ORDER BY MAX() DESC LIMIT ${limit}`
  );
}

export interface ModelDashboardProps {
  readonly dashboardName: string;
  readonly model: string;
  /** The drift-check schedule: drift and quality metrics have one datapoint per period. */
  readonly driftPeriod: Duration;
  /** Drawn as horizontal lines on the graphs they concern. */
  readonly thresholds: {
    readonly latencyP95Ms: number;
    readonly errorRatePercent: number;
    readonly psi: number;
    readonly minRows: number;
    readonly maxAucDrop: number;
    readonly minLabels: number;
  };
  /** Shown in an alarm-status widget at the top. */
  readonly alarms: readonly cloudwatch.IAlarm[];
}

/**
 * The CloudWatch dashboard of one model: alarm status; traffic, latency, errors and prediction distribution of
 * each variant; drift (status, rows, prediction PSI, the top drifting features by Metrics Insights); live quality.
 *
 * @example
 * ```ts
 * new ModelDashboard(this, 'credit-risk', {
 *   dashboardName: 'mlops-dev-credit-risk', model: 'credit-risk', driftPeriod: Duration.hours(1),
 *   thresholds: { latencyP95Ms: 200, errorRatePercent: 1, psi: 0.1, minRows: 500, maxAucDrop: 0.05, minLabels: 200 },
 *   alarms: alarms.alarmsOf('credit-risk'),
 * });
 * ```
 */
export class ModelDashboard extends Construct {
  public readonly dashboard: cloudwatch.Dashboard;

  constructor(scope: Construct, id: string, props: ModelDashboardProps) {
    super(scope, id);
    const { model, thresholds, driftPeriod } = props;

    const predict = (metricName: string, variant: Variant, statistic: string, label: string) =>
      new cloudwatch.Metric({
        namespace: METRICS_NAMESPACE,
        metricName,
        dimensionsMap: { [SERVICE_DIMENSION]: PREDICT_SERVICE, [dimensions.model]: model, [dimensions.variant]: variant },
        statistic,
        period: SERVING_PERIOD,
        label,
      });
    const drift = (metricName: string, label: string, statistic: string = cloudwatch.Stats.MAXIMUM) =>
      new cloudwatch.Metric({
        namespace: METRICS_NAMESPACE,
        metricName,
        dimensionsMap: { [SERVICE_DIMENSION]: DRIFT_SERVICE, [dimensions.model]: model },
        statistic,
        period: driftPeriod,
        label,
      });
    const line = (value: number, label: string): cloudwatch.HorizontalAnnotation => ({ value, label, color: cloudwatch.Color.RED });
    const graph = (title: string, options: Omit<cloudwatch.GraphWidgetProps, 'title'>, width = HALF_WIDTH) =>
      new cloudwatch.GraphWidget({ title, width, height: HEIGHT, ...options });

    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      dashboardName: props.dashboardName,
      defaultInterval: Duration.days(1),
    });
    this.dashboard.addWidgets(
      new cloudwatch.AlarmStatusWidget({
        title: `${model}: alarms`,
        alarms: [...props.alarms],
        width: FULL_WIDTH,
        height: 3,
      }),
    );
    this.dashboard.addWidgets(
      graph('Traffic: requests by variant', {
        left: VARIANTS.map((v) => predict(predictMetrics.requests, v, cloudwatch.Stats.SUM, `${v} requests`)),
        stacked: true,
      }),
      graph('Latency (ms)', {
        left: VARIANTS.flatMap((v) =>
          [50, 95, 99].map((p) => predict(predictMetrics.latency, v, cloudwatch.Stats.percentile(p), `${v} p${p}`)),
        ),
        leftAnnotations: [line(thresholds.latencyP95Ms, 'p95 page')],
      }),
    );
    this.dashboard.addWidgets(
      graph('Errors', {
        left: VARIANTS.flatMap((v) => [
          predict(predictMetrics.serverErrors, v, cloudwatch.Stats.SUM, `${v} server errors`),
          predict(predictMetrics.clientErrors, v, cloudwatch.Stats.SUM, `${v} client errors`),
        ]),
        right: [
          new cloudwatch.MathExpression({
            expression: '100 * FILL(errors, 0) / requests',
            usingMetrics: {
              errors: predict(predictMetrics.serverErrors, 'production', cloudwatch.Stats.SUM, 'errors'),
              requests: predict(predictMetrics.requests, 'production', cloudwatch.Stats.SUM, 'requests'),
            },
            label: 'production server errors (%)',
            period: SERVING_PERIOD,
          }),
        ],
        rightAnnotations: [line(thresholds.errorRatePercent, 'error-rate page (%)')],
      }),
      graph('Prediction distribution', {
        left: VARIANTS.map((v) => predict(predictMetrics.scoreMean, v, cloudwatch.Stats.AVERAGE, `${v} mean score`)),
        right: [drift(driftMetrics.scorePsi, 'prediction PSI (vs training)')],
        rightAnnotations: [line(thresholds.psi, 'PSI threshold')],
      }),
    );
    this.dashboard.addWidgets(
      graph(
        `Top ${TOP_DRIFTING_FEATURES} drifting features (PSI)`,
        {
          left: [
            new cloudwatch.MathExpression({
              // No label: each series of the query is named by its feature (the GROUP BY).
              expression: topDriftingFeaturesQuery(model),
              usingMetrics: {},
              period: driftPeriod,
            }),
          ],
          leftAnnotations: [line(thresholds.psi, 'PSI threshold')],
        },
        FULL_WIDTH,
      ),
    );
    this.dashboard.addWidgets(
      graph('Drift status (0 ok, 1 warning, 2 drifted)', {
        left: [drift(driftMetrics.status, 'drift status')],
        right: [
          drift(driftMetrics.maxFeaturePsi, 'largest feature PSI'),
          drift(driftMetrics.driftedFeatures, 'drifted features'),
        ],
        leftYAxis: { min: 0, max: 2 },
        leftAnnotations: [line(2, 'drifted')],
      }),
      graph('Observations per drift window', {
        left: [drift(driftMetrics.windowRows, 'rows in window')],
        leftAnnotations: [line(thresholds.minRows, 'minimum for a verdict')],
      }),
    );
    this.dashboard.addWidgets(
      graph('Live quality', {
        left: [drift(driftMetrics.liveAuc, 'live AUC'), drift(driftMetrics.aucDrop, 'AUC drop vs holdout')],
        right: [drift(driftMetrics.calibrationError, 'calibration error')],
        leftAnnotations: [line(thresholds.maxAucDrop, 'AUC drop page')],
      }),
      graph('Labelled predictions', {
        left: [drift(driftMetrics.labelledPredictions, 'labelled predictions in quality window')],
        leftAnnotations: [line(thresholds.minLabels, 'minimum for a verdict')],
      }),
    );
  }
}
