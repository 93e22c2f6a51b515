// `import kernels from './assembly/index.ts?asc'`: the wasm builds of an AssemblyScript entry as base64,
// made by tools/vite-plugin-asc.ts.
declare module '*?asc' {
  const variants: {
    /** Relaxed SIMD (fused multiply-add), shared memory. */
    relaxedShared: string;
    relaxedUnshared: string;
    /** Plain SIMD: engines without relaxed SIMD (Node 20 without a flag). */
    plainShared: string;
    plainUnshared: string;
  };
  export default variants;
}
