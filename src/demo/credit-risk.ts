import { formatCsvRow } from '../core/data/csv.js';
import { Rng } from '../core/random.js';

/**
 * A seeded generator of synthetic consumer-loan applications with a default label: numeric, categorical,
 * boolean and timestamp fields, a PII field (email), and knobs to inject drift. It exists for the demo and
 * the tests; no code outside src/demo knows its column names (the model spec is examples/credit-risk/spec.json).
 */
export interface CreditRiskOptions {
  readonly rows: number;
  readonly seed: number;
  /** 0..1: shifts the population (lower incomes, higher debt, more small-business loans, younger applicants). */
  readonly covariateDrift?: number;
  /** 0..1: changes how features relate to default (income protects less, debt hurts more, base rate up). */
  readonly conceptDrift?: number;
  /** Applications are spread over 90 days starting here (epoch ms). */
  readonly start?: number;
  /** Share of optional fields left empty. */
  readonly missingRate?: number;
  /** First applicant number, so successive batches have distinct ids. */
  readonly firstId?: number;
}

export type CreditRiskRow = Record<string, string | number | boolean | null>;

const OWNERSHIP = ['RENT', 'OWN', 'MORTGAGE', 'OTHER'] as const;
const PURPOSES = ['debt_consolidation', 'credit_card', 'home_improvement', 'car', 'medical', 'small_business', 'wedding', 'other'] as const;
const PURPOSE_RISK: Record<string, number> = { debt_consolidation: 0.1, credit_card: 0, home_improvement: -0.2, car: -0.3, medical: 0.3, small_business: 0.7, wedding: 0, other: 0.2 };
const FIRST = ['alex', 'sam', 'maria', 'li', 'noah', 'emma', 'omar', 'zoe', 'ivan', 'aisha'];
const LAST = ['smith', 'garcia', 'chen', 'muller', 'okafor', 'rossi', 'kim', 'novak', 'silva', 'dubois'];
const DAY = 86_400_000;

export function generateCreditRisk(options: CreditRiskOptions): CreditRiskRow[] {
  const rng = new Rng(options.seed);
  const cd = clamp01(options.covariateDrift ?? 0);
  const kd = clamp01(options.conceptDrift ?? 0);
  const start = options.start ?? Date.UTC(2026, 0, 1);
  const missing = options.missingRate ?? 0.04;
  const firstId = options.firstId ?? 1;
  const rows: CreditRiskRow[] = [];
  for (let i = 0; i < options.rows; i++) {
    const age = Math.round(Math.min(95, Math.max(18, rng.normal(41 - 8 * cd, 12))));
    const income = Math.round(Math.max(8000, Math.exp(rng.normal(Math.log(58000) - 0.45 * cd, 0.55))));
    const loan = Math.round(Math.min(500000, Math.max(500, Math.exp(rng.normal(Math.log(14000) + 0.2 * cd, 0.7)))) / 100) * 100;
    const dti = round2(Math.min(9.5, Math.max(0, rng.normal(0.32 + 0.18 * cd, 0.15) + loan / income / 4)));
    const history = Math.max(0, Math.round(rng.normal((age - 18) * 9, 40)));
    const accounts = Math.max(0, Math.round(rng.normal(7, 3)));
    const delinquencies = rng.next() < 0.18 + 0.1 * cd ? 1 + rng.int(4) : 0;
    const employment = Math.max(0, Math.min(age - 16, Math.round(rng.normal(6, 5))));
    const ownership = rng.weighted(OWNERSHIP, [0.42 + 0.15 * cd, 0.18, 0.36 - 0.15 * cd, 0.04]);
    const purpose = rng.weighted(PURPOSES, [0.4, 0.2, 0.09, 0.1, 0.05, 0.06 + 0.2 * cd, 0.03, 0.07]);
    const postal = String(100 + rng.int(900));
    const cosigner = rng.next() < 0.12;
    const appliedAt = start + Math.floor(rng.next() * 90 * DAY);
    const hour = new Date(appliedAt).getUTCHours();
    const email = `${FIRST[rng.int(FIRST.length)]}.${LAST[rng.int(LAST.length)]}${rng.int(1000)}@example.com`;

    const z =
      -2.1 +
      0.35 * kd +
      (1.6 + 0.8 * kd) * (dti - 0.45) -
      (0.9 - 0.7 * kd) * (Math.log(income) - Math.log(58000)) +
      0.35 * (Math.log(loan) - Math.log(14000)) +
      0.45 * delinquencies -
      0.004 * (history - 200) -
      0.02 * (employment - 6) +
      (ownership === 'RENT' ? 0.25 : ownership === 'MORTGAGE' ? -0.15 : 0) +
      (PURPOSE_RISK[purpose] ?? 0) -
      (cosigner ? 0.6 : 0) +
      (hour >= 0 && hour < 5 ? 0.35 : 0) -
      0.01 * (age - 40);
    const defaulted = rng.next() < 1 / (1 + Math.exp(-z)) ? 1 : 0;
    rows.push({
      applicant_id: `A${String(firstId + i).padStart(8, '0')}`,
      email: rng.next() < missing ? null : email,
      age,
      annual_income: income,
      loan_amount: loan,
      debt_to_income: dti,
      credit_history_months: history,
      open_accounts: rng.next() < missing ? null : accounts,
      delinquencies_2y: delinquencies,
      employment_years: rng.next() < missing ? null : employment,
      home_ownership: ownership,
      loan_purpose: purpose,
      postal_prefix: postal,
      has_cosigner: rng.next() < missing ? null : cosigner,
      applied_at: new Date(appliedAt).toISOString(),
      defaulted,
    });
  }
  return rows;
}

/** CSV text with a header row (empty cells for missing values). */
export function toCsv(rows: readonly CreditRiskRow[]): string {
  const first = rows[0];
  if (!first) return '';
  const columns = Object.keys(first);
  const lines = [formatCsvRow(columns)];
  for (const r of rows) lines.push(formatCsvRow(columns.map((c) => r[c])));
  return lines.join('\n') + '\n';
}

/** JSON Lines text, one record per line. */
export function toJsonl(rows: readonly CreditRiskRow[]): string {
  return rows.map((r) => JSON.stringify(r)).join('\n') + '\n';
}

function clamp01(x: number): number {
  return Math.min(1, Math.max(0, x));
}

function round2(x: number): number {
  return Math.round(x * 100) / 100;
}

/** One valid request instance for the demo model (the start banner, benchmarks and tests use it). */
export const exampleInstance = {
  age: 35,
  annual_income: 52000,
  loan_amount: 12000,
  debt_to_income: 0.35,
  credit_history_months: 120,
  open_accounts: 6,
  delinquencies_2y: 0,
  employment_years: 4,
  home_ownership: 'RENT',
  loan_purpose: 'credit_card',
  postal_prefix: '941',
  has_cosigner: false,
  applied_at: '2026-11-27T10:00:00Z',
} as const;
