// Types for case.mjs (plain JavaScript so that browsers and Deno load it unchanged).

export interface GemmCase {
  name: string;
  m: number;
  k: number;
  n: number;
  seed: number;
  transB?: boolean;
  bias?: boolean;
  activation?: 'relu';
}
export interface SumCase {
  name: string;
  shape: number[];
  seed: number;
}
export const GEMMS: GemmCase[];
export const SUMS: SumCase[];
export const GEMM_TILES: ('cpu' | 'gpu')[];
export const GEMM_REL: number;
export const GEMM_ABS: number;
export const SUM_REL: number;

export function values(n: number, seed: number): Float32Array;
export function inputs(): {
  gemms: { a: Float32Array; b: Float32Array; bias: Float32Array | undefined }[];
  sums: Float32Array[];
};

export interface Output {
  name: string;
  shape: number[];
  values: number[];
}
export interface GemmOutput extends Output {
  /** The tile configuration it ran with (ops.chooseGemmTiles). */
  tiles: Record<string, unknown>;
}
export interface CaseResults {
  adapter: { vendor: string; architecture: string; device: string; description: string; isCpu: boolean };
  features: string[];
  gemms: GemmOutput[];
  sums: Output[];
}
export function runCase(lib: unknown, acquireOptions?: object): Promise<CaseResults>;

export interface Expected {
  name: string;
  shape: number[];
  ref: Float64Array;
  mag: Float64Array;
}
export function reference(): { gemms: Expected[]; sums: Expected[] };
export function check(
  results: Partial<CaseResults>,
  expected?: { gemms: Expected[]; sums: Expected[] },
): { problems: string[]; worst: Record<string, number> };
