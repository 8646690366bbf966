// Reading a model's config.json: CNNs say "architecture" (DESIGN.md), LLaMA-family decoders carry
// transformers' "architectures" list. Every problem found is reported at once, naming the file and field.

import type * as z from 'zod';
import { type CnnConfig, cifarResnetSchema, resnetSchema, vggSchema } from './config-cnn.js';
import { formatIssues, show } from './config-issues.js';
import { LLM_ARCHITECTURES, type LlmConfig, llmSchema } from './config-llm.js';
import { ConfigError } from './errors.js';
import { type DirectorySource, readText } from './source.js';

export type { CifarResnetConfig, CnnConfig, ResnetConfig, VggConfig } from './config-cnn.js';
export type { Llama3RopeScaling, LlmArchitecture, LlmConfig } from './config-llm.js';

export type ModelConfig = CnnConfig | LlmConfig;

const CNN_SCHEMAS = { 'cifar-resnet': cifarResnetSchema, resnet: resnetSchema, vgg: vggSchema } as const;

export const KNOWN_ARCHITECTURES: readonly string[] = [...Object.keys(CNN_SCHEMAS), ...LLM_ARCHITECTURES];

/** Parses config.json text; `file` names it in errors. */
export function parseModelConfig(text: string, file = 'config.json'): ModelConfig {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(file, [`not valid JSON: ${(err as Error).message}`]);
  }
  return validateModelConfig(value, file);
}

/** Validates an already-parsed config object. */
export function validateModelConfig(value: unknown, file = 'config.json'): ModelConfig {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ConfigError(file, [`expected a JSON object, got ${show(value)}`]);
  }
  const schema = schemaFor(value as Record<string, unknown>, file);
  const result = schema.safeParse(value);
  if (!result.success) throw new ConfigError(file, formatIssues(result.error.issues, value));
  return result.data as ModelConfig;
}

/** Reads and validates `config.json` of a model directory. */
export async function readModelConfig(dir: DirectorySource): Promise<ModelConfig> {
  return parseModelConfig(await readText(dir, 'config.json'), `${dir.name}/config.json`);
}

function schemaFor(config: Record<string, unknown>, file: string): z.ZodType {
  const known = `known: ${KNOWN_ARCHITECTURES.join(', ')}`;
  if ('architecture' in config) {
    const arch = config.architecture;
    if (typeof arch === 'string' && Object.hasOwn(CNN_SCHEMAS, arch)) {
      return CNN_SCHEMAS[arch as keyof typeof CNN_SCHEMAS];
    }
    throw new ConfigError(file, [`unknown architecture ${show(arch)} (${known})`]);
  }
  if ('architectures' in config) {
    const list = config.architectures;
    const first = Array.isArray(list) ? list[0] : undefined;
    if (typeof first === 'string' && (LLM_ARCHITECTURES as readonly string[]).includes(first)) {
      return llmSchema;
    }
    throw new ConfigError(file, [`unknown architectures ${show(list)} (${known})`]);
  }
  throw new ConfigError(file, [
    `no "architecture" (CNNs) or "architectures" (transformers LLMs) field (${known})`,
  ]);
}
