import { defineConfig } from 'vitest/config';
import asc from './tools/vite-plugin-asc.ts';

export default defineConfig({
  plugins: [asc()],
  test: { include: ['test/unit/**/*.test.ts'], environment: 'node' },
});
