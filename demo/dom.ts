// Typed DOM lookups for the demo and benchmark pages: a missing element or context throws an Error that
// names what was looked for, instead of a TypeError on null later. No side effects, so both pages import it.

/** The element with id `id`. */
export function el<T extends HTMLElement = HTMLElement>(id: string): T {
  const found = document.getElementById(id);
  if (!found) throw new Error(`demo: no element #${id} on the page`);
  return found as T;
}

/** The first element under `root` that matches `selector`. */
export function query<T extends Element = HTMLElement>(selector: string, root: ParentNode = document): T {
  const found = root.querySelector<T>(selector);
  if (!found) throw new Error(`demo: no element matches ${selector}`);
  return found;
}

/** The canvas's 2-D context. */
export function context2d(canvas: HTMLCanvasElement): CanvasRenderingContext2D {
  const ctx = canvas.getContext('2d');
  if (!ctx) throw new Error('demo: the browser gave no 2-D context for a canvas');
  return ctx;
}
