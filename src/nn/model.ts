// One surface for the image classifiers, so that the method, evaluation and training need not know which
// network they run: createClassifier picks the class from the description's architecture.

import type { ModelDescription } from '../arch/types.js';
import type { Gpu } from '../gpu/device.js';
import type { Tensor } from '../gpu/tensor.js';
import type { ForwardOptions, Gradients } from './forward.js';
import type { ParamStore } from './params.js';
import { CifarResnet } from './resnet.js';
import { Vgg } from './vgg.js';

/** Saved activations of a train-mode forward pass, for the same model's backward (which consumes them). */
export interface SavedActivations {
  readonly kind: string;
  consumed: boolean;
  dispose(): void;
}

export interface ClassifierForward {
  /** [N, numClasses]. */
  readonly logits: Tensor;
  /** Present in train mode. */
  readonly saved: SavedActivations | undefined;
}

export interface ClassifierModel {
  readonly desc: ModelDescription;
  readonly params: ParamStore;
  /** x [N, C, H, W] (normalised images) stays the caller's. */
  forward(x: Tensor, options: ForwardOptions): Promise<ClassifierForward>;
  /** Gradients of every weight and bias in state_dict order; `saved` must come from this model's forward. */
  backward(saved: SavedActivations, dlogits: Tensor): Gradients;
  /** Eval-mode snapshot with each BN folded into its conv. */
  freezeForEval(): Promise<void>;
  unfreeze(): void;
  readonly frozen: boolean;
}

/** Architectures createClassifier runs. */
export const CLASSIFIER_ARCHITECTURES = ['cifar-resnet', 'resnet', 'vgg'] as const;

/** The model class for `desc.architecture`; an architecture without one is an error naming it. */
export function createClassifier(gpu: Gpu, desc: ModelDescription, params: ParamStore): ClassifierModel {
  const arch: string = desc.architecture;
  switch (desc.architecture) {
    case 'cifar-resnet':
    case 'resnet':
      return new CifarResnet(gpu, desc, params);
    case 'vgg':
      return new Vgg(gpu, desc, params);
    default:
      throw new Error(
        `${desc.name}: no classifier for architecture '${arch}' (supported: ${CLASSIFIER_ARCHITECTURES.join(', ')})`,
      );
  }
}
