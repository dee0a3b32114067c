import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { s3Layout } from '../../src/core/storage-layout.js';
import {
  dimensions,
  DRIFT_SERVICE,
  driftMetrics,
  METRICS_NAMESPACE,
  PREDICT_SERVICE,
  predictMetrics,
} from '../../src/serving/telemetry-names.js';
import { SERVICE_DIMENSION } from './canary-rollback.js';

/**
 * `mlops-<stage>-monitor-`: the prefix of every monitoring alarm of a stage. CloudWatch sends each state change
 * of an alarm to the default EventBridge bus ("CloudWatch Alarm State Change", source `aws.cloudwatch`); the
 * retraining pipeline matches this prefix there, and keeps the alarms {@link isRetrainingAlarm} accepts.
 */
export const monitorAlarmPrefix = (stage: string): string => `mlops-${stage}-monitor-`;

/** Kinds of per-model monitoring alarm; a feature's drift alarm is `feature-drift-<feature>`. */
export type MonitorAlarmKind = 'drift' | 'quality' | 'latency' | 'error-rate' | `feature-drift-${string}`;

/** The kind of the drift alarm of one feature. */
export const featureDriftKind = (feature: string): MonitorAlarmKind => `feature-drift-${feature}`;

/** Kinds that page on-call but say nothing about the model's fit to its data. */
const OPERATIONAL_KINDS = ['latency', 'error-rate'] as const;

/**
 * `mlops-<stage>-monitor-<model>-<kind>`: the name of a monitoring alarm of one model.
 *
 * @example
 * ```ts
 * monitorAlarmName('dev', 'credit-risk', 'latency'); // 'mlops-dev-monitor-credit-risk-latency'
 * monitorAlarmName('dev', 'credit-risk', featureDriftKind('loan_amount')); // '...-feature-drift-loan_amount'
 * ```
 */
export function monitorAlarmName(stage: string, model: string, kind: MonitorAlarmKind): string {
  return `${monitorAlarmPrefix(stage)}${model}-${kind}`;
}

/** `mlops-<stage>-monitor-drift-check-errors`: the alarm on failed drift checks (of any model). */
export const driftCheckErrorsAlarmName = (stage: string): string => `${monitorAlarmPrefix(stage)}drift-check-errors`;

/**
 * Whether an alarm of this stage means a model no longer fits its data (drift, feature drift, quality), as the
 * retraining pipeline should judge the alarm events it matches by {@link monitorAlarmPrefix}; latency, error
 * rate and drift-check errors are operational. Unambiguous because feature names hold no dashes.
 *
 * @example
 * ```ts
 * isRetrainingAlarm('dev', 'mlops-dev-monitor-credit-risk-drift'); // true
 * isRetrainingAlarm('dev', 'mlops-dev-monitor-credit-risk-latency'); // false
 * ```
 */
export function isRetrainingAlarm(stage: string, alarmName: string): boolean {
  return (
    alarmName.startsWith(monitorAlarmPrefix(stage)) &&
    alarmName !== driftCheckErrorsAlarmName(stage) &&
    !OPERATIONAL_KINDS.some((kind) => alarmName.endsWith(`-${kind}`))
  );
}

/** Serving alarms look at one-minute periods and fire when 3 of the last 5 breach (a blip does not page). */
export const SERVING_ALARM_PERIOD = Duration.minutes(1);
export const SERVING_ALARM_EVALUATION_PERIODS = 5;
export const SERVING_ALARM_DATAPOINTS = 3;

/** When a model pages (StageConfig fields, see lib/config.ts). */
export interface ModelAlarmThresholds {
  /** FeatureDriftPsi of a key feature above this, in `consecutiveWindows` checks in a row. */
  readonly psi: number;
  readonly consecutiveWindows: number;
  /** p95 PredictLatency of the production variant, milliseconds. */
  readonly latencyP95Ms: number;
  /** 100 x ServerErrors / Requests of the production variant. */
  readonly errorRatePercent: number;
  /** AucDrop (holdout AUC - live AUC) above this. */
  readonly maxAucDrop: number;
}

export interface MonitoredModel {
  readonly name: string;
  /** Features that get their own drift alarm. */
  readonly keyFeatures: readonly string[];
}

export interface ModelAlarmsProps {
  readonly stage: string;
  readonly models: readonly MonitoredModel[];
  readonly thresholds: ModelAlarmThresholds;
  /** The drift-check schedule: one check, hence one datapoint of each drift metric, per period. */
  readonly driftPeriod: Duration;
  /** The pager: receives ALARM and OK notifications of every alarm. */
  readonly topic: sns.ITopic;
}

/** The alarms of one model. */
export interface AlarmsOfModel {
  /** By key feature. */
  readonly featureDrift: ReadonlyMap<string, cloudwatch.Alarm>;
  readonly drift: cloudwatch.Alarm;
  readonly latency: cloudwatch.Alarm;
  readonly errorRate: cloudwatch.Alarm;
  readonly quality: cloudwatch.Alarm;
}

/**
 * The pages of the monitoring stack, on the EMF metrics of src/serving/telemetry-names.ts. Per model: drift of
 * each key feature, the model's drift status, production p95 latency and error rate, and live quality (AUC
 * drop); and one alarm on failed drift checks. Every alarm notifies the topic on ALARM and on OK.
 *
 * Missing data never pages. Drift and quality metrics are verdicts, emitted only when a check could make one
 * (enough rows or labels, a baseline): a missing datapoint means "no verdict", so those alarms IGNORE it and keep
 * their state (a drifted model is not declared healthy by a quiet hour). Serving metrics are missing when there is
 * no traffic, which is healthy: NOT_BREACHING, so a page clears when traffic stops. The drift-check errors metric
 * is emitted by every check: missing means no check ran, which is not a failed check (NOT_BREACHING).
 *
 * @example
 * ```ts
 * const alarms = new ModelAlarms(this, 'Alarms', {
 *   stage: 'dev', models: [{ name: 'credit-risk', keyFeatures: ['loan_amount'] }], topic,
 *   driftPeriod: Duration.hours(1),
 *   thresholds: { psi: 0.1, consecutiveWindows: 3, latencyP95Ms: 200, errorRatePercent: 1, maxAucDrop: 0.05 },
 * });
 * alarms.byModel.get('credit-risk')!.latency;
 * ```
 */
export class ModelAlarms extends Construct {
  public readonly byModel: ReadonlyMap<string, AlarmsOfModel>;
  /** DriftCheckErrors > 0: a check failed (unreadable sketches, registry errors); its model got no verdict. */
  public readonly checkErrors: cloudwatch.Alarm;

  constructor(scope: Construct, id: string, props: ModelAlarmsProps) {
    super(scope, id);
    const { thresholds, driftPeriod, stage } = props;
    const action = new actions.SnsAction(props.topic);
    const alarm = (name: string, alarmProps: Omit<cloudwatch.AlarmProps, 'alarmName'>): cloudwatch.Alarm => {
      const created = new cloudwatch.Alarm(this, name, { ...alarmProps, alarmName: name });
      created.addAlarmAction(action);
      created.addOkAction(action);
      return created;
    };

    const byModel = new Map<string, AlarmsOfModel>();
    for (const model of props.models) {
      const driftMetric = (metricName: string, extra: Record<string, string> = {}) =>
        new cloudwatch.Metric({
          namespace: METRICS_NAMESPACE,
          metricName,
          dimensionsMap: { [SERVICE_DIMENSION]: DRIFT_SERVICE, [dimensions.model]: model.name, ...extra },
          statistic: cloudwatch.Stats.MAXIMUM,
          period: driftPeriod,
        });
      const productionMetric = (metricName: string, statistic: string) =>
        new cloudwatch.Metric({
          namespace: METRICS_NAMESPACE,
          metricName,
          dimensionsMap: { [SERVICE_DIMENSION]: PREDICT_SERVICE, [dimensions.model]: model.name, [dimensions.variant]: 'production' },
          statistic,
          period: SERVING_ALARM_PERIOD,
        });
      const serving = {
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: SERVING_ALARM_EVALUATION_PERIODS,
        datapointsToAlarm: SERVING_ALARM_DATAPOINTS,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      };

      const featureDrift = new Map<string, cloudwatch.Alarm>();
      for (const feature of model.keyFeatures) {
        featureDrift.set(
          feature,
          alarm(monitorAlarmName(stage, model.name, featureDriftKind(feature)), {
            alarmDescription:
              `PSI of ${model.name}'s feature ${feature} against its training baseline exceeded ${thresholds.psi} in ` +
              `${thresholds.consecutiveWindows} drift checks in a row. See the drift report ` +
              `(${s3Layout.latestReportKey(model.name)} in the artifact bucket).`,
            metric: driftMetric(driftMetrics.featurePsi, { [dimensions.feature]: feature }),
            threshold: thresholds.psi,
            comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluationPeriods: thresholds.consecutiveWindows,
            datapointsToAlarm: thresholds.consecutiveWindows,
            treatMissingData: cloudwatch.TreatMissingData.IGNORE,
          }),
        );
      }

      byModel.set(model.name, {
        featureDrift,
        // The drift-check function already requires consecutive drifted windows before status 2 (drifted).
        drift: alarm(monitorAlarmName(stage, model.name, 'drift'), {
          alarmDescription:
            `The drift check declared ${model.name} drifted (DriftStatus 2: drifted features or degraded quality in ` +
            `${thresholds.consecutiveWindows} windows in a row). The retraining pipeline reacts to this alarm.`,
          metric: driftMetric(driftMetrics.status),
          threshold: 2,
          comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
          evaluationPeriods: 1,
          treatMissingData: cloudwatch.TreatMissingData.IGNORE,
        }),
        latency: alarm(monitorAlarmName(stage, model.name, 'latency'), {
          alarmDescription: `p95 latency of ${model.name} (production) exceeds ${thresholds.latencyP95Ms} ms.`,
          metric: productionMetric(predictMetrics.latency, cloudwatch.Stats.percentile(95)),
          threshold: thresholds.latencyP95Ms,
          ...serving,
        }),
        errorRate: alarm(monitorAlarmName(stage, model.name, 'error-rate'), {
          alarmDescription: `Server errors of ${model.name} (production) exceed ${thresholds.errorRatePercent}% of its requests.`,
          // ServerErrors is only emitted by failing requests: FILL makes a minute with requests but no error 0%.
          metric: new cloudwatch.MathExpression({
            expression: '100 * FILL(errors, 0) / requests',
            usingMetrics: {
              errors: productionMetric(predictMetrics.serverErrors, cloudwatch.Stats.SUM),
              requests: productionMetric(predictMetrics.requests, cloudwatch.Stats.SUM),
            },
            label: `${model.name} production server errors (% of requests)`,
            period: SERVING_ALARM_PERIOD,
          }),
          threshold: thresholds.errorRatePercent,
          ...serving,
        }),
        // One check's quality window already spans hours of labels; a drop beyond the limit pages at once.
        quality: alarm(monitorAlarmName(stage, model.name, 'quality'), {
          alarmDescription:
            `Live AUC of ${model.name} (from feedback labels) is more than ${thresholds.maxAucDrop} below its holdout ` +
            'AUC. The retraining pipeline reacts to this alarm.',
          metric: driftMetric(driftMetrics.aucDrop),
          threshold: thresholds.maxAucDrop,
          comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
          evaluationPeriods: 1,
          treatMissingData: cloudwatch.TreatMissingData.IGNORE,
        }),
      });
    }
    this.byModel = byModel;

    this.checkErrors = alarm(driftCheckErrorsAlarmName(stage), {
      alarmDescription:
        'A drift check failed (unreadable sketches or metadata, registry errors): the model concerned got no ' +
        'verdict. The function logs the model and the reason.',
      metric: new cloudwatch.Metric({
        namespace: METRICS_NAMESPACE,
        metricName: driftMetrics.checkErrors,
        dimensionsMap: { [SERVICE_DIMENSION]: DRIFT_SERVICE },
        statistic: cloudwatch.Stats.SUM,
        period: driftPeriod,
      }),
      threshold: 0,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
  }

  /** Every alarm of one model (for an alarm-status widget). */
  alarmsOf(model: string): cloudwatch.Alarm[] {
    const alarms = this.byModel.get(model);
    if (!alarms) return [];
    return [...alarms.featureDrift.values(), alarms.drift, alarms.quality, alarms.latency, alarms.errorRate];
  }
}
