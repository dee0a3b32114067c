import type { CreditRiskRow } from '../../src/demo/credit-risk.js';

export type ParquetColumns = Record<string, { data: unknown[]; type: string }>;

/** The demo columns of `rows` as typed Parquet columns (INT64 amounts, a TIMESTAMP, a BOOLEAN...). */
export function creditRiskColumns(rows: readonly CreditRiskRow[]): ParquetColumns {
  const col = (name: string, type: string, map: (v: unknown) => unknown = (v) => v) => ({ data: rows.map((r) => map((r as unknown as Record<string, unknown>)[name])), type });
  return {
    applicant_id: col('applicant_id', 'STRING'),
    age: col('age', 'INT32'),
    annual_income: col('annual_income', 'DOUBLE'),
    loan_amount: col('loan_amount', 'INT64', (v) => BigInt(v as number)),
    debt_to_income: col('debt_to_income', 'DOUBLE'),
    credit_history_months: col('credit_history_months', 'INT32'),
    open_accounts: col('open_accounts', 'INT32'),
    delinquencies_2y: col('delinquencies_2y', 'INT32'),
    employment_years: col('employment_years', 'INT32'),
    home_ownership: col('home_ownership', 'STRING'),
    loan_purpose: col('loan_purpose', 'STRING'),
    postal_prefix: col('postal_prefix', 'STRING'),
    has_cosigner: col('has_cosigner', 'BOOLEAN'),
    applied_at: col('applied_at', 'TIMESTAMP', (v) => new Date(v as string)),
  };
}

/** A Parquet file of these columns, in row groups of `rowGroupSize` rows. */
export async function parquetOf(columns: ParquetColumns, rowGroupSize = 40): Promise<Uint8Array> {
  const { parquetWriteBuffer } = await import('hyparquet-writer');
  return new Uint8Array(parquetWriteBuffer({ columnData: Object.entries(columns).map(([name, c]) => ({ name, ...c })) as never, rowGroupSize }));
}

/** The rows of a Parquet file, and how many row groups it has. */
export async function readParquet(bytes: Uint8Array): Promise<{ rows: Record<string, unknown>[]; rowGroups: number }> {
  const { parquetMetadata, parquetReadObjects } = await import('hyparquet');
  const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  const rows = (await parquetReadObjects({ file: { byteLength: buffer.byteLength, slice: async (s: number, e?: number) => buffer.slice(s, e) } })) as Record<string, unknown>[];
  return { rows, rowGroups: parquetMetadata(buffer).row_groups.length };
}
