// The training-run manager (src/train/run/manager.ts) through the library's train() with an in-memory
// store: a resumed run repeats the uninterrupted one bit for bit (image classifier and causal LM), other
// settings are refused naming the option field, and a checkpoint is committed whole or not at all.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type CheckpointFiles,
  type ImageTrainCall,
  type LmTrainCall,
  MemoryRunStore,
  type RunStore,
  train,
} from '../../src/api/train.js';
import { useGpu } from '../helpers/gpu.js';
import { tinyDataset } from '../helpers/tiny-model.js';

const getGpu = useGpu();

const image = (): ImageTrainCall => ({
  arch: 'cifar-resnet',
  depth: 20,
  blocks: [1, 1, 1],
  data: { name: 'tiny', train: tinyDataset('tiny train', 48, 1), test: tinyDataset('tiny test', 20, 2) },
  epochs: 2,
  batch: 16,
  lr: 0.05,
  seed: 7,
});

const lm = (): LmTrainCall => ({
  arch: 'llama',
  layers: 2,
  hidden: 16,
  heads: 4,
  kvHeads: 2,
  intermediate: 24,
  data: { name: 'cats', bytes: new TextEncoder().encode('the cat sat on the mat. the dog sat. '.repeat(20)) },
  seqLen: 16,
  batch: 4,
  epochs: 2,
  lr: 0.01,
  warmup: 2,
  seed: 3,
});

/** A store that fails the commit of epoch `failAt` (after building part of it), then works again. */
class FlakyStore extends MemoryRunStore {
  failAt: number | undefined;
  override async commit(epoch: number, files: CheckpointFiles): Promise<void> {
    if (epoch !== this.failAt) return super.commit(epoch, files);
    this.failAt = undefined;
    const broken = {
      ...files,
      optimizer: {
        ...files.optimizer,
        late: {
          dtype: 'F32' as const,
          shape: [1],
          data: () => {
            throw new Error('disk full');
          },
        },
      },
    };
    return super.commit(epoch, broken);
  }
}

const bytesOf = (store: MemoryRunStore) => {
  const files = store.files();
  return ['model.safetensors', 'optimizer.safetensors', 'config.json'].map((f) => files.get(f));
};

const stateOf = (store: RunStore & { files(): Map<string, Uint8Array> }) =>
  JSON.parse(new TextDecoder().decode(store.files().get('train-state.json')));

describe.each([
  ['an image classifier', image],
  ['a causal LM', lm],
] as const)('train() of %s with a memory store', (_name, options) => {
  let whole: MemoryRunStore;

  beforeAll(async () => {
    whole = new MemoryRunStore();
    await train(await getGpu(), options() as ImageTrainCall, { store: whole });
  });

  afterAll(() => {});

  it('a run stopped after epoch 1 and resumed writes the same bytes as an uninterrupted one', async () => {
    const gpu = await getGpu();
    const store = new MemoryRunStore();
    const stop = new AbortController();
    const events: string[] = [];
    await expect(
      train(gpu, options() as ImageTrainCall, {
        store,
        signal: stop.signal,
        onProgress: (p) => {
          events.push(p.type);
          if (p.type === 'epoch') stop.abort(new Error('stopped'));
        },
      }),
    ).rejects.toThrow('stopped');
    expect(stateOf(store).completedEpochs).toBe(1);
    expect(events).toContain('eval-end');
    const resumed: string[] = [];
    await train(gpu, options() as ImageTrainCall, {
      store,
      resume: true,
      onProgress: (p) => resumed.push(p.type),
    });
    expect(resumed[0]).toBe('resume');
    expect(stateOf(store).completedEpochs).toBe(2);
    expect(bytesOf(store)).toEqual(bytesOf(whole));
  });

  it('refuses to resume with other settings, naming the option field, and leaves the store as it was', async () => {
    const gpu = await getGpu();
    const before = whole.files();
    await expect(
      train(gpu, { ...options(), lr: 0.02, seed: 9 } as ImageTrainCall, { store: whole, resume: true }),
    ).rejects.toThrow(
      /^resume: the run in memory used other settings: lr 0\.0\d+ \(now 0\.02\), seed \d \(now 9\); repeat the original options$/,
    );
    await expect(train(gpu, options() as ImageTrainCall, { store: whole })).rejects.toThrow(/give resume/);
    await expect(
      train(gpu, options() as ImageTrainCall, { store: new MemoryRunStore(), resume: true }),
    ).rejects.toThrow(/resume: memory holds no train-state\.json/);
    expect(whole.files()).toEqual(before);
  });

  it('a failed commit leaves the previous checkpoint whole, and resuming from it repeats the run', async () => {
    const gpu = await getGpu();
    const store = new FlakyStore();
    store.failAt = 2;
    let epoch1: Map<string, Uint8Array> | undefined;
    await expect(
      train(gpu, options() as ImageTrainCall, {
        store,
        onProgress: (p) => {
          if (p.type === 'epoch') epoch1 = store.files();
        },
      }),
    ).rejects.toThrow('disk full');
    expect(store.files()).toEqual(epoch1);
    expect(stateOf(store).completedEpochs).toBe(1);
    await train(gpu, options() as ImageTrainCall, { store, resume: true });
    expect(bytesOf(store)).toEqual(bytesOf(whole));
  });
});

describe('train() options', () => {
  it('names the option field in its errors, before touching the store or the device', async () => {
    const store = new MemoryRunStore();
    const noGpu = async () => {
      throw new Error('no device should be needed');
    };
    await expect(train(noGpu, { ...image(), epochs: 0 }, { store })).rejects.toThrow(
      /^epochs must be an integer >= 1, got 0$/,
    );
    await expect(train(noGpu, { ...image(), blocks: [1, 1] }, { store })).rejects.toThrow(
      /^blocks must be three/,
    );
    await expect(
      train(noGpu, { ...image(), shortcut: 'B', arch: 'vgg', blocks: undefined }, { store }),
    ).rejects.toThrow(/^shortcut: only for arch cifar-resnet \(got arch vgg\)/);
    await expect(train(noGpu, { ...lm(), heads: 3 }, { store })).rejects.toThrow(
      /^hidden 16 is not a multiple of heads 3$/,
    );
    await expect(train(noGpu, { ...lm(), warmup: 1000 }, { store })).rejects.toThrow(
      /^warmup 1000 must be below/,
    );
    await expect(train(noGpu, { ...lm(), seqLen: 4096 }, { store })).rejects.toThrow(
      /^cats \(train\): \d+ bytes, not one full window of seqLen 4096$/,
    );
    expect(store.files().size).toBe(0);
  });
});
