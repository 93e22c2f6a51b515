// How the threads of one run share work and meet: a task counter each phase hands out indices from, and
// a barrier between phases. The control block (CTRL_* words of layout.ts) lives in shared memory when
// several threads run; with one thread the same code runs without waiting on anything.
import { CTRL_BAR_COUNT, CTRL_BAR_GEN, CTRL_TASK } from '../layout';

/** Spins before sleeping: a barrier is usually reached within microseconds, a wake-up costs tens. */
const SPIN = 4000;

/** Index of the next task of the current phase (0, 1, 2, … across all threads). */
export function nextTask(ctrl: usize): i32 {
  return atomic.add<i32>(ctrl + (CTRL_TASK << 2), 1);
}

/**
 * Waits until all `threads` threads have arrived. Callers keep no float local alive across a barrier: SGD
 * updates once went missing in worker threads and were put down to V8's baseline tier (Liftoff, Node 20)
 * losing such a local across memory.atomic.wait32 (inlined into the caller); the host ending runs early
 * (see pool.ts) explains them as well, but the rule costs nothing and stays. The last to arrive resets the
 * task counter for the next phase before releasing the others, so every phase starts at task 0.
 */
export function barrier(ctrl: usize, threads: i32): void {
  if (threads <= 1) {
    store<i32>(ctrl + (CTRL_TASK << 2), 0);
    return;
  }
  const genAt = ctrl + (CTRL_BAR_GEN << 2);
  const gen = atomic.load<i32>(genAt);
  if (atomic.add<i32>(ctrl + (CTRL_BAR_COUNT << 2), 1) === threads - 1) {
    atomic.store<i32>(ctrl + (CTRL_BAR_COUNT << 2), 0);
    atomic.store<i32>(ctrl + (CTRL_TASK << 2), 0);
    atomic.store<i32>(genAt, gen + 1);
    atomic.notify(genAt);
    return;
  }
  let spins = 0;
  while (atomic.load<i32>(genAt) === gen) {
    if (++spins > SPIN) atomic.wait<i32>(genAt, gen);
  }
}
