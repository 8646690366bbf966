// Evaluation: classifier accuracy and loss.
export {
  type Classifier,
  type ClassifierMetrics,
  type EvaluateOptions,
  evaluateClassifier,
  type LabelledBatch,
} from './classify.js';
