/** Holdout metrics of a binary classifier. AUC is null when the holdout holds a single class. */
export interface ClassifierMetrics {
  readonly auc: number | null;
  readonly accuracy: number;
  readonly logLoss: number;
  readonly brier: number;
  readonly rows: number;
  readonly positiveRate: number;
}

/** Metrics for scores (P(positive)) against 0/1 labels, classifying at `threshold`. */
export function classifierMetrics(scores: ArrayLike<number>, labels: ArrayLike<number>, threshold = 0.5): ClassifierMetrics {
  const n = scores.length;
  if (n !== labels.length) throw new RangeError('scores and labels differ in length');
  if (n === 0) throw new RangeError('no rows to evaluate');
  let correct = 0;
  let ll = 0;
  let brier = 0;
  let positives = 0;
  for (let i = 0; i < n; i++) {
    const p = scores[i]!;
    const y = labels[i]!;
    positives += y;
    if ((p >= threshold ? 1 : 0) === y) correct++;
    const pc = Math.min(Math.max(p, 1e-15), 1 - 1e-15);
    ll -= y * Math.log(pc) + (1 - y) * Math.log(1 - pc);
    brier += (p - y) ** 2;
  }
  return { auc: rocAuc(scores, labels), accuracy: correct / n, logLoss: ll / n, brier: brier / n, rows: n, positiveRate: positives / n };
}

/** Area under the ROC curve by the rank-sum (Mann–Whitney) formula, ties given their average rank. */
export function rocAuc(scores: ArrayLike<number>, labels: ArrayLike<number>): number | null {
  const n = scores.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => scores[a]! - scores[b]!);
  let rankSumPos = 0;
  let positives = 0;
  for (let i = 0; i < n; ) {
    let j = i;
    while (j < n && scores[order[j]!] === scores[order[i]!]) j++;
    const avgRank = (i + 1 + j) / 2;
    for (let k = i; k < j; k++) {
      if (labels[order[k]!] === 1) {
        rankSumPos += avgRank;
        positives++;
      }
    }
    i = j;
  }
  const negatives = n - positives;
  if (positives === 0 || negatives === 0) return null;
  return (rankSumPos - (positives * (positives + 1)) / 2) / (positives * negatives);
}
