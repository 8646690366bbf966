// A text case of the benchmarks: the decoder LM loaded on the device and its data's train/test windows.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describeModel } from '../../src/arch/describe.js';
import type { ModelDescription } from '../../src/arch/types.js';
import type { Gpu } from '../../src/gpu/device.js';
import { parseModelConfig } from '../../src/io/config.js';
import { parseDataSpec } from '../../src/io/data-spec.js';
import { openCheckpoint } from '../../src/io/safetensors-index.js';
import { type TextWindows, textWindows } from '../../src/io/text-data.js';
import { readTokenizer } from '../../src/io/tokenizer.js';
import { ParamStore } from '../../src/nn/params.js';
import { directorySource } from '../../src/node/files.js';

export interface TextCase {
  readonly desc: ModelDescription;
  readonly params: ParamStore;
  readonly train: TextWindows;
  readonly test: TextWindows;
}

/** `name`'s model in `dir` with its `data` spec (`text:FILE`), in windows of 128 tokens. */
export async function loadTextCase(gpu: Gpu, name: string, dir: string, data: string): Promise<TextCase> {
  const source = directorySource(dir);
  const config = parseModelConfig(readFileSync(join(dir, 'config.json'), 'utf8'), join(dir, 'config.json'));
  const desc = describeModel(config);
  const spec = parseDataSpec(data);
  if (spec.kind !== 'text') throw new Error(`${name}: text data expected`);
  const tokenizer = await readTokenizer(source);
  const ids = tokenizer.encode(new TextDecoder('utf-8', { fatal: true }).decode(readFileSync(spec.file)));
  const store = await openCheckpoint(source);
  const params = await ParamStore.load(gpu, desc, store);
  await store.close();
  return {
    desc,
    params,
    train: textWindows(ids, 'train', 128, { name: spec.file }),
    test: textWindows(ids, 'test', 128, { name: spec.file }),
  };
}
