// Public types shared by every backend and the network. See DESIGN.md for the contract.

/** softmax is row-wise and only for a network's output layer, with the crossEntropy loss. */
export type Activation = 'relu' | 'sigmoid' | 'tanh' | 'linear' | 'softmax';
export type BackendKind = 'webgpu' | 'wasm' | 'cpu';

export const ACTIVATIONS: readonly Activation[] = ['relu', 'sigmoid', 'tanh', 'linear', 'softmax'];

/** Sizes a backend can handle. The CPU backend reports what a Float32Array can hold. */
export interface BackendLimits {
  /** Largest single buffer, in bytes. */
  maxBufferSize: number;
  /** Largest buffer range one shader binding can see, in bytes. */
  maxStorageBufferBindingSize: number;
}

export interface BackendOptions {
  /**
   * WebGPU only: ask for a low-power or high-performance adapter. (WebGPU's GPUPowerPreference, spelled
   * out so that the published types need no @webgpu/types in a user's project.)
   */
  powerPreference?: 'low-power' | 'high-performance';
  /**
   * WebGPU only: called with every error the GPU reports on its own (validation, out of memory,
   * device loss). Without it such errors are logged with console.error and also make the next
   * `read()` reject, so they are never lost.
   */
  onError?: (error: Error) => void;
  /**
   * The most memory, in bytes, this backend may hold at once: GPU memory on WebGPU (checked against
   * with the adapter's limits, GpuMemoryError), host memory on the CPU backend (HostMemoryError; default
   * 4 GiB) and wasm memory on the wasm backend (default: all that wasm32 allows). A network checks what it
   * needs before allocating anything.
   */
  memoryBudget?: number;
  /**
   * wasm only: worker threads (default: the cores the browser or OS reports). Threads need a
   * cross-origin-isolated page (COOP same-origin + COEP require-corp); without one the backend runs one
   * thread and says why in `threadsReason`.
   */
  threads?: number;
  /** 'auto' only: how it chooses between WebGPU and wasm (see createBackend). */
  auto?: AutoOptions;
  /**
   * WebGPU only: use a lower maxStorageBufferBindingSize than the adapter's (bytes), e.g. to test how
   * large layers are handled on small GPUs.
   */
  maxStorageBufferBindingSize?: number;
  /**
   * WebGPU only (default true): on first use of a matmul shape class, time the kernel variants on this
   * adapter and keep the fastest (cached in localStorage per adapter and browser). false uses a fixed
   * default variant.
   */
  autotune?: boolean;
}

export interface AutoOptions {
  /**
   * Milliseconds of one training step of the probe network on each backend, used instead of measuring
   * (for tests, or to state a preference): the smaller wins.
   */
  timings?: { webgpu: number; wasm: number };
  /** Remember the measured choice in localStorage per adapter and browser (default true). */
  cache?: boolean;
}

/** A row-major f32 matrix living on one backend. */
export interface Matrix {
  readonly rows: number;
  readonly cols: number;
  /** Copies the values out (a GPU readback on the WebGPU backend). */
  read(): Promise<Float32Array>;
  /** Frees the storage. Safe to call twice; any later use throws DisposedError. */
  dispose(): void;
}

export interface MatmulOptions {
  /** Use aᵀ (a is stored as K×M). */
  transposeA?: boolean;
  /** Use bᵀ (b is stored as N×K). */
  transposeB?: boolean;
  /** 1×N row added to every output row. */
  bias?: Matrix;
  /** Applied after the bias. */
  activation?: Activation;
}

export interface Backend {
  readonly kind: BackendKind;
  readonly limits: BackendLimits;
  /**
   * Set by createBackend('auto') when it did not return WebGPU: why (no adapter, or wasm measured faster
   * here), in words.
   */
  readonly fallbackReason?: string;
  /** Set by createBackend('auto'): which backend it chose and why, in words (the measured times). */
  readonly choice?: string;
  matrix(rows: number, cols: number, data?: Float32Array): Matrix;
  matmul(a: Matrix, b: Matrix, opts?: MatmulOptions): Matrix;
  activation(kind: Activation, x: Matrix): Matrix;
  /** dx = dy ⊙ f'(z), with f' written in terms of y = f(z). */
  activationBackward(kind: Activation, y: Matrix, dy: Matrix): Matrix;
  /** Column sums: 1×cols. */
  biasGrad(dz: Matrix): Matrix;
  /** mean((pred - target)^2) as a 1×1 matrix. */
  mseLoss(pred: Matrix, target: Matrix): Matrix;
  /** 2 (pred - target) / (rows · cols). */
  mseGrad(pred: Matrix, target: Matrix): Matrix;
  /**
   * The mean cross-entropy of a softmax over `logits` (rows of class scores) against `target` (rows of
   * class probabilities): −mean over rows of Σ_j target_j · log softmax(logits)_j, by log-sum-exp, so
   * large logits stay finite. 1×1.
   */
  crossEntropyLoss(logits: Matrix, target: Matrix): Matrix;
  /** Its gradient with respect to the logits: (softmax(logits) − target) / rows. */
  crossEntropyGrad(logits: Matrix, target: Matrix): Matrix;
  /** param -= learningRate · grad, in place. */
  sgdUpdate(param: Matrix, grad: Matrix, learningRate: number): void;
  /** Frees everything this backend made. Safe to call twice. */
  destroy(): void;
}

/** Counters of the WebGPU backend's matmul tuner. */
export interface TuningStats {
  /** Whether the backend times matmul variants at all (BackendOptions.autotune). */
  enabled: boolean;
  /** Shape classes timed on this device in this session. */
  tuned: number;
  /** Shape classes whose choice came from localStorage. */
  fromCache: number;
  /** Cached entries ignored because they were corrupt or stale. */
  rejected: number;
}

/** What createBackend('wasm') adds to a Backend: how it runs. */
export interface WasmBackendInfo {
  readonly kind: 'wasm';
  /** Worker threads sharing its memory (1: on the calling thread). */
  readonly threads: number;
  /** Why this many threads, in words (e.g. that the page is not cross-origin isolated, and what to serve). */
  readonly threadsReason: string;
  /** Whether the kernels use relaxed SIMD's fused multiply-add (else plain SIMD). */
  readonly relaxedSimd: boolean;
  /** Bytes of wasm memory in use and held (it grows, never shrinks), and allocations made so far. */
  readonly memory: { bytesInUse: number; memoryBytes: number; allocations: number };
}

export type WasmBackend = Backend & WasmBackendInfo;

/** What createBackend('webgpu') returns: a Backend with a view of its device. */
export interface WebGpuBackend extends Backend {
  readonly kind: 'webgpu';
  /** The GPUDevice it runs on (a new one after a recovery from device loss). */
  readonly device: GPUDevice;
  /** The adapter's name as it reports it ("google swiftshader" for Chromium's software adapter). */
  readonly adapterName: string;
  /** The matmul tuner's counters (see BackendOptions.autotune). */
  readonly tuning: Readonly<TuningStats>;
}
