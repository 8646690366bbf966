// An image classifier's model directory on disk: its config.json, checked before anything is loaded.

import { stat } from 'node:fs/promises';
import { type CnnConfig, type ModelConfig, readModelConfig } from '../io/config.js';
import { directorySource, isNotFound } from './files.js';

/** An image classifier's config; a language model's is an error pointing at text data. */
export function runnableConfig(config: ModelConfig, where: string): CnnConfig {
  if (config.kind === 'llm') {
    throw new Error(`${where} describes a language model: give it text data (--data text:FILE)`);
  }
  return config;
}

/** A model directory's config, checked to be runnable; a missing directory or config.json is named. */
export async function readRunnableConfig(model: string): Promise<CnnConfig> {
  try {
    if (!(await stat(model)).isDirectory()) throw new Error(`model ${model} is not a directory`);
  } catch (err) {
    if (isNotFound(err)) throw new Error(`model directory ${model} not found`);
    throw err;
  }
  const dir = directorySource(model);
  if (!(await dir.has('config.json'))) {
    throw new Error(
      `model ${model} has no config.json (expected a model directory: config.json + model.safetensors)`,
    );
  }
  return runnableConfig(await readModelConfig(dir), `${model}/config.json`);
}
