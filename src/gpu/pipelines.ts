import { KernelError } from './errors.js';
import { type Defines, specialise } from './shader.js';
import type { UniformDecl, UniformLayout } from './uniforms.js';

/**
 * One kernel: the program object a dispatch names. A family (one WGSL file, or one generator) and the
 * values it is specialised on; its uniforms, declared once (gpu/uniforms.ts); the shared snippets its
 * template includes.
 */
export interface KernelSpec<D extends UniformDecl = UniformDecl> {
  name: string;
  /** WGSL with `${NAME}`, `#if` and `#include` (gpu/shader.ts), or a generator of it from the defines. */
  template: string | ((defines: Defines) => string);
  /** Everything that changes the code, and nothing else: the pipeline cache key is built from these. */
  defines: Defines;
  /** The uniforms (`struct Params`, `#include params` in the template); the dispatch gives them by name. */
  params?: UniformLayout<D>;
  /** Snippets the template includes by name (shaders/lib/). */
  includes?: Readonly<Record<string, string>>;
}

/** The WGSL of a kernel: its template (or generator) specialised on its defines. */
export function kernelSource(spec: KernelSpec): string {
  const template = typeof spec.template === 'string' ? spec.template : spec.template(spec.defines);
  return specialise(template, spec.defines, { params: spec.params, includes: spec.includes });
}

/**
 * The cache key lists exactly what changes the code: the family and its sorted defines. Uniform
 * declarations and includes are fixed per family, so the name stands for them.
 */
export function pipelineKey(spec: KernelSpec): string {
  const defs = Object.keys(spec.defines)
    .sort()
    .map((k) => `${k}=${spec.defines[k]}`);
  return `${spec.name}(${defs.join(',')})`;
}

export class PipelineCache {
  private readonly pipelines = new Map<string, GPUComputePipeline>();
  private checks: Promise<KernelError | undefined>[] = [];

  constructor(private readonly device: GPUDevice) {}

  get size(): number {
    return this.pipelines.size;
  }

  /** Synchronous so dispatches can be recorded without awaiting; compile errors surface in errors(). */
  get(spec: KernelSpec): GPUComputePipeline {
    const key = pipelineKey(spec);
    let pipeline = this.pipelines.get(key);
    if (!pipeline) {
      const code = kernelSource(spec);
      this.device.pushErrorScope('validation');
      const module = this.device.createShaderModule({ code, label: key });
      pipeline = this.device.createComputePipeline({ layout: 'auto', compute: { module }, label: key });
      this.checks.push(
        this.device.popErrorScope().then((e) => {
          if (!e) return undefined;
          this.pipelines.delete(key); // the next use recompiles and reports the real error again
          return new KernelError(key, e.message);
        }),
      );
      this.pipelines.set(key, pipeline);
    }
    return pipeline;
  }

  /** The first compile error among pipelines created since the last call, if any. */
  async firstError(): Promise<KernelError | undefined> {
    const checks = this.checks;
    this.checks = [];
    return (await Promise.all(checks)).find((e) => e !== undefined);
  }

  /** Compiles ahead of use and turns WGSL errors into a KernelError naming the kernel and line. */
  async compile(spec: KernelSpec): Promise<GPUComputePipeline> {
    const key = pipelineKey(spec);
    const cached = this.pipelines.get(key);
    if (cached) return cached;
    const code = kernelSource(spec);
    const module = this.device.createShaderModule({ code, label: key });
    const info = await module.getCompilationInfo();
    const errors = info.messages.filter((m) => m.type === 'error');
    if (errors.length > 0) {
      const lines = code.split('\n');
      const text = errors.map(
        (m) => `line ${m.lineNum}: ${m.message}\n  ${lines[m.lineNum - 1]?.trim() ?? ''}`,
      );
      throw new KernelError(key, `WGSL compile error\n${text.join('\n')}`);
    }
    try {
      const pipeline = await this.device.createComputePipelineAsync({
        layout: 'auto',
        compute: { module },
        label: key,
      });
      this.pipelines.set(key, pipeline);
      return pipeline;
    } catch (e) {
      throw new KernelError(key, (e as Error).message);
    }
  }
}
