/** A WGSL compile error or a validation error, naming the kernel it came from. */
export class KernelError extends Error {
  constructor(
    readonly kernel: string,
    message: string,
  ) {
    super(`kernel ${kernel}: ${message}`);
    this.name = 'KernelError';
  }
}

/** The device was lost (driver reset, destroy, out of memory): every later call fails with this. */
export class DeviceLostError extends Error {
  constructor(reason: string, message: string) {
    super(`GPU device lost (${reason}): ${message || 'no message'}`);
    this.name = 'DeviceLostError';
  }
}

/** Bad arguments to an op: wrong shape, dtype or option. */
export class ShapeError extends Error {
  constructor(op: string, message: string) {
    super(`${op}: ${message}`);
    this.name = 'ShapeError';
  }
}
