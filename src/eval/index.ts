// Evaluation: classifier accuracy and loss; language-model perplexity.
export {
  type Classifier,
  type ClassifierMetrics,
  type EvaluateOptions,
  evaluateClassifier,
  type LabelledBatch,
} from './classify.js';
export {
  evaluatePerplexity,
  type LanguageModel,
  type PerplexityMetrics,
  type PerplexityOptions,
} from './perplexity.js';
export {
  evaluatePerplexityStreamed,
  type StreamedPerplexity,
  type StreamedPerplexityOptions,
} from './perplexity-stream.js';
