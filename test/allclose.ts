// Tolerance checks shared by unit and browser tests: |actual - expected| ≤ atol + rtol·|expected| per
// element, with separate rtol and atol chosen per test. Reports the worst element when it fails.
export interface Tolerance {
  rtol: number;
  atol: number;
}

export function allclose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: Tolerance): string | null {
  if (actual.length !== expected.length) return `length ${actual.length} != expected ${expected.length}`;
  let worst = -1;
  let worstExcess = 0;
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i];
    const e = expected[i];
    if (Number.isNaN(a) !== Number.isNaN(e)) return `element ${i}: ${a} vs expected ${e}`;
    const excess = Math.abs(a - e) - (tol.atol + tol.rtol * Math.abs(e));
    if (excess > worstExcess || (excess > 0 && worst < 0)) {
      worst = i;
      worstExcess = excess;
    }
  }
  if (worst < 0) return null;
  const a = actual[worst];
  const e = expected[worst];
  const diff = Math.abs(a - e).toExponential(3);
  const bound = `atol ${tol.atol} + rtol ${tol.rtol}·|expected|`;
  return `element ${worst} of ${actual.length}: ${a} vs expected ${e} (|diff| ${diff} > ${bound})`;
}
