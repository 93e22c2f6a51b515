import { test, expect } from './fixtures';

test('adapter and a tiny matmul', async ({ gpuPage }) => {
  const r = await gpuPage.evaluate(async () => {
    const b = await window.T.gpuBackend();
    const a = b.matrix(2, 2, Float32Array.of(1, 2, 3, 4));
    const c = b.matmul(a, a);
    return { name: (b as unknown as { adapterName: string }).adapterName, c: Array.from(await c.read()) };
  });
  console.log(r.name);
  expect(r.c).toEqual([7, 10, 15, 22]);
});
