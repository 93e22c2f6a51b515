// The binary contract between the wasm engine's JavaScript side and its AssemblyScript kernels: opcodes,
// the word layout of each op in a program, the control block the threads meet on, and the blocking
// constants both sides size scratch memory with. This file is compiled twice, as TypeScript and as
// AssemblyScript, so it holds nothing but integer constants (no types, no expressions over imports).
//
// A program is a run of 32-bit words in wasm memory: each op is [opcode, length in words, fields…] and
// an op with opcode OP_END closes the program. Pointers are byte addresses, counts are elements (f32 or
// u32), and a pointer field of 0 means "absent" (address 0 is below the kernels' heap base, never
// allocated).

// ---- opcodes ----
export const OP_END = 0;
export const OP_GEMM = 1;
export const OP_ACTIVATION = 2;
export const OP_ACTIVATION_GRAD = 3;
export const OP_BIAS_GRAD = 4;
export const OP_MSE_LOSS = 5;
export const OP_MSE_GRAD = 6;
export const OP_OPTIMIZER = 7;
export const OP_GATHER = 8;
export const OP_COPY = 9;
export const OP_FILL = 10;
export const OP_SOFTMAX = 11;
export const OP_SOFTMAX_GRAD = 12;
export const OP_CROSS_ENTROPY = 13;

// Activation codes, as the WGSL ACT_* constants.
export const ACT_LINEAR = 0;
export const ACT_RELU = 1;
export const ACT_SIGMOID = 2;
export const ACT_TANH = 3;

// GEMM epilogues, as matmul.wgsl's EPI_* constants.
export const EPI_FORWARD = 0;
export const EPI_GRAD = 1;
export const EPI_SGD = 2;
export const EPI_ADD = 3;

// Optimizer kinds, as optimizer.wgsl's OPT_* constants.
export const OPT_SGD = 0;
export const OPT_MOMENTUM = 1;
export const OPT_ADAM = 2;

// Words of an optimizer's hyper-parameter block (f32), as optimizer.wgsl's Hyper struct.
export const HYPER_LR = 0;
export const HYPER_BETA1 = 1;
export const HYPER_BETA2 = 2;
export const HYPER_EPSILON = 3;
export const HYPER_C1 = 4;
export const HYPER_C2 = 5;
/** Decoupled weight decay: ops with decay (and the gemm sgd epilogue) also take lr·wd·p off p. */
export const HYPER_WD = 6;
export const HYPER_WORDS = 8;

// ---- op fields (word index after the opcode and length words) ----
// gemm: C[m×n] = epilogue(opA(A)[m×k] · opB(B)[k×n]); lda/ldb/ldc are stored row lengths in elements.
export const GEMM_A = 2;
export const GEMM_B = 3;
export const GEMM_C = 4;
export const GEMM_M = 5;
export const GEMM_N = 6;
export const GEMM_K = 7;
export const GEMM_LDA = 8;
export const GEMM_LDB = 9;
export const GEMM_LDC = 10;
/** bit 0 transA, bit 1 transB, bits 2–3 epilogue, bits 4–5 activation */
export const GEMM_FLAGS = 11;
/** EPI_FORWARD: the 1×n bias (0: none) */
export const GEMM_BIAS = 12;
/** EPI_GRAD: the m×n Y (row length ldc) whose derivative multiplies the product */
export const GEMM_AUX = 13;
/** EPI_SGD: a hyper block (HYPER_WORDS f32s); the epilogue reads HYPER_LR and HYPER_WD */
export const GEMM_HYPER = 14;
/** Rows of opA(A) packed at a time (a multiple of MR) and columns of opB(B) (a multiple of NR). */
export const GEMM_MCHUNK = 15;
export const GEMM_NCHUNK = 16;
/** Output tile (the unit of work a thread takes): at most MC rows (multiple of MR) × NC columns (of NR). */
export const GEMM_MC = 17;
export const GEMM_NC = 18;
export const GEMM_WORDS = 19;

export const FLAG_TRANS_A = 1;
export const FLAG_TRANS_B = 2;
export const FLAG_EPI_SHIFT = 2;
export const FLAG_ACT_SHIFT = 4;

// activation: y = f(x) over n elements. activationGrad: out = dy ⊙ f'(y).
export const ACT_X = 2;
export const ACT_Y = 3;
export const ACT_N = 4;
export const ACT_KIND = 5;
export const ACT_WORDS = 6;
export const AGRAD_Y = 2;
export const AGRAD_DY = 3;
export const AGRAD_OUT = 4;
export const AGRAD_N = 5;
export const AGRAD_KIND = 6;
export const AGRAD_WORDS = 7;

// biasGrad: out[j] = Σ_i dz[i, j] over an m×n dz (ACCUMULATE 1: out[j] += that).
export const BG_DZ = 2;
export const BG_OUT = 3;
export const BG_M = 4;
export const BG_N = 5;
export const BG_ACCUMULATE = 6;
export const BG_WORDS = 7;

// mseLoss: out[0] (+)= scale · Σ (p - t)². mseGrad: g = scale · (p - t) ⊙ f'(p). scale is f32 bits.
export const MSE_P = 2;
export const MSE_T = 3;
export const MSE_OUT = 4;
export const MSE_N = 5;
export const MSE_SCALE = 6;
/** mseLoss: 1 to add to out[0]; mseGrad: the activation code */
export const MSE_EXTRA = 7;
export const MSE_WORDS = 8;

// optimizer: in-place update of p from g (and state s1, s2) with hyper-parameters read at run time.
export const OPTIM_KIND = 2;
export const OPTIM_P = 3;
export const OPTIM_G = 4;
export const OPTIM_S1 = 5;
export const OPTIM_S2 = 6;
export const OPTIM_N = 7;
export const OPTIM_HYPER = 8;
/** 1: decoupled weight decay (u += wd·p before p −= lr·u) */
export const OPTIM_DECAY = 9;
export const OPTIM_WORDS = 10;

// gather: out[i, :] = src[idx[offset + i], :] for i < rows, rows of `cols` elements; offset is the u32
// at OFFSET (0: none).
export const GATHER_SRC = 2;
export const GATHER_IDX = 3;
export const GATHER_OUT = 4;
export const GATHER_ROWS = 5;
export const GATHER_COLS = 6;
export const GATHER_OFFSET = 7;
/** Rows in src: an index at or past it stores a zero row and sets CTRL_ERROR to ERR_GATHER_INDEX. */
export const GATHER_SRC_ROWS = 8;
export const GATHER_WORDS = 9;

// copy: dst = src (n elements). fill: dst = value (f32 bits).
export const COPY_SRC = 2;
export const COPY_DST = 3;
export const COPY_N = 4;
export const COPY_WORDS = 5;
export const FILL_DST = 2;
export const FILL_N = 3;
export const FILL_VALUE = 4;
export const FILL_WORDS = 5;

// softmax: y[r, :] = softmax(x[r, :]) over m rows of n.
export const SM_X = 2;
export const SM_Y = 3;
export const SM_M = 4;
export const SM_N = 5;
export const SM_WORDS = 6;

// softmaxGrad: out[r, j] = y[r, j]·(dy[r, j] − Σ_k dy[r, k]·y[r, k]) over m rows of n.
export const SMG_Y = 2;
export const SMG_DY = 3;
export const SMG_OUT = 4;
export const SMG_M = 5;
export const SMG_N = 6;
export const SMG_WORDS = 7;

// crossEntropy: from m rows of n logits z (replaced by their softmax P) and targets t: the loss into
// LOSS[0], the count of rows classified right added to the u32 at CORRECT (0: none), dz = (P − t)·
// GRAD_SCALE at DZ (0: none). The scales are f32 bits; ACCUMULATE 1 adds to LOSS[0].
export const CE_Z = 2;
export const CE_T = 3;
export const CE_M = 4;
export const CE_N = 5;
export const CE_LOSS = 6;
export const CE_LOSS_SCALE = 7;
export const CE_ACCUMULATE = 8;
export const CE_CORRECT = 9;
export const CE_DZ = 10;
export const CE_GRAD_SCALE = 11;
export const CE_WORDS = 12;

// ---- the control block: i32 words the threads meet on ----
/** Bumped by the host to start a run; workers wait on it. */
export const CTRL_JOB = 0;
/** Bumped by the last worker to finish a run; the host waits on it. */
export const CTRL_DONE = 1;
/** Workers finished with the current run. */
export const CTRL_DONE_COUNT = 2;
/** Threads arrived at the current barrier. */
export const CTRL_BAR_COUNT = 3;
/** Barrier generation: waiters sleep on it. */
export const CTRL_BAR_GEN = 4;
/** Next task index of the current phase; reset to 0 at every barrier. */
export const CTRL_TASK = 5;
/** Address of the program to run. */
export const CTRL_PROGRAM = 6;
/** Shared scratch (packed B, reduction partials) and its size in bytes. */
export const CTRL_SHARED = 7;
export const CTRL_SHARED_BYTES = 8;
/** Per-thread scratch: thread t owns [THREAD + t·THREAD_BYTES, +THREAD_BYTES). */
export const CTRL_THREAD = 9;
export const CTRL_THREAD_BYTES = 10;
/** Set to 1 to make the workers leave. */
export const CTRL_QUIT = 11;
/** 0, or an ERR_* code an op set during the run. */
export const CTRL_ERROR = 12;
export const ERR_GATHER_INDEX = 1;
export const CTRL_WORDS = 16;

// ---- blocking ----
/** Micro-kernel tile: MR rows × NR columns of C held in registers (gemm.ts is written for 5×8). */
export const MR = 5;
export const NR = 8;
/**
 * Cache blocks: a thread walks its MC×NC output tile KC steps of k at a time, so a KC×NR panel of packed
 * B stays in L1 while MC/MR panels of A stream past it from L2. MC and NC are the largest tiles; an op
 * may ask for smaller ones (more tiles to share among threads).
 */
export const MC = 80;
export const KC = 256;
export const NC = 256;
/** Per-thread scratch in f32s: partial sums over K blocks (MC·NC) and one output tile (MR·NR). */
export const THREAD_FLOATS = MC * NC + MR * NR;
/** Packed A and packed B each hold at most about this many f32s; bigger operands are packed in chunks. */
export const PACK_FLOATS = 1 << 20;
/** Elements per task of the elementwise ops, and per partial sum of the loss reduction. */
export const CHUNK = 8192;
/** Columns per task of biasGrad. */
export const BG_COLS = 8;
/**
 * Elements per task of the row-wise ops (softmax, softmaxGrad, crossEntropy): a task is max(1, ⌊ROW_CHUNK
 * / n⌋) whole rows, and crossEntropy keeps one partial sum per task. Smaller than CHUNK so that a batch of
 * a few thousand logits is still shared among threads.
 */
export const ROW_CHUNK = 1024;
