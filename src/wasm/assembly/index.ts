// The wasm engine's kernels: an interpreter that runs a program (layout.ts) as one of `threads` threads.
// Each thread walks the same op list, does its share of each op and meets the others at a barrier
// between ops; with one thread that is a plain loop. Memory is imported; everything the ops touch is
// addressed by pointers the JavaScript side allocated, and nothing here allocates.
import {
  CTRL_PROGRAM,
  CTRL_SHARED,
  CTRL_THREAD,
  CTRL_THREAD_BYTES,
  OP_ACTIVATION,
  OP_ACTIVATION_GRAD,
  OP_BIAS_GRAD,
  OP_COPY,
  OP_CROSS_ENTROPY,
  OP_END,
  OP_FILL,
  OP_GATHER,
  OP_GEMM,
  OP_MSE_GRAD,
  OP_MSE_LOSS,
  OP_OPTIMIZER,
  OP_SOFTMAX,
  OP_SOFTMAX_GRAD,
} from '../layout';
import { gemm } from './gemm';
import { activation, activationGrad, biasGrad, copy, fill, gather, mseGrad, mseLoss, optimizer } from './ops';
import { crossEntropy, softmax, softmaxGrad } from './rows';
import { barrier } from './sync';

/** First address past the kernels' static data: the host allocates from here up. */
export function heapBase(): usize {
  return __heap_base;
}

/** Runs the program the control block at `ctrl` names, as thread `tid` of `threads`. */
export function run(ctrl: usize, tid: i32, threads: i32): void {
  const shared = <usize>load<u32>(ctrl + (CTRL_SHARED << 2));
  const mine = <usize>load<u32>(ctrl + (CTRL_THREAD << 2)) + <usize>tid * load<u32>(ctrl + (CTRL_THREAD_BYTES << 2));
  let op = <usize>load<u32>(ctrl + (CTRL_PROGRAM << 2));
  let code = load<i32>(op);
  while (code !== OP_END) {
    if (code === OP_GEMM) gemm(op, ctrl, tid, threads, shared, mine);
    else if (code === OP_ACTIVATION) activation(op, ctrl);
    else if (code === OP_ACTIVATION_GRAD) activationGrad(op, ctrl);
    else if (code === OP_BIAS_GRAD) biasGrad(op, ctrl);
    else if (code === OP_MSE_LOSS) mseLoss(op, ctrl, tid, threads, shared);
    else if (code === OP_MSE_GRAD) mseGrad(op, ctrl);
    else if (code === OP_OPTIMIZER) optimizer(op, ctrl, mine);
    else if (code === OP_GATHER) gather(op, ctrl);
    else if (code === OP_COPY) copy(op, ctrl);
    else if (code === OP_FILL) fill(op, ctrl);
    else if (code === OP_SOFTMAX) softmax(op, ctrl);
    else if (code === OP_SOFTMAX_GRAD) softmaxGrad(op, ctrl);
    else if (code === OP_CROSS_ENTROPY) crossEntropy(op, ctrl, tid, threads, shared);
    else unreachable();
    op += (<usize>load<u32>(op, 4)) << 2;
    code = load<i32>(op);
    // Ops meet between each other; after the last one the host's join (CTRL_DONE) is the meeting.
    if (code !== OP_END) barrier(ctrl, threads);
  }
}
