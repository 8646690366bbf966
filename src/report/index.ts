// The report front end: sglp-report.json (schema, parsing), report.html, and the method comparison table.
// Pure string in, string out: the CLI writes the files.

export {
  ARCHITECTURES,
  type Candidate,
  type EvalMetrics,
  isClassification,
  METHODS,
  type Method,
  type Protocol,
  parseReport,
  REPORT_VERSION,
  type Report,
  ReportError,
  type ReportImportance,
  type ReportSegmentation,
  type ReportSegmentImportance,
  type ReportUnit,
  reportSchema,
  reportWithoutTimings,
  type Sampling,
  type Timings,
  type UnitScores,
} from '../sglp/report/schema.js';
export {
  type CompareRow,
  type CompareTable,
  compareRow,
  compareRows,
  compareTable,
  unprunedRow,
} from './compare.js';
export { renderReportHtml } from './html.js';
