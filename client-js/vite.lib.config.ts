// Builds the package (lib/index.js, ESM). Dependencies and monaco stay imports: the
// application bundles one copy of each.
import { defineConfig } from 'vite';

export default defineConfig({
  build: {
    outDir: 'lib',
    emptyOutDir: true,
    sourcemap: true,
    minify: false,
    lib: {
      entry: 'src/index.ts',
      formats: ['es'],
      fileName: 'index',
    },
    rollupOptions: {
      external: [/^yjs(\/|$)/, /^y-websocket(\/|$)/, /^y-protocols(\/|$)/, /^lib0(\/|$)/, /^monaco-editor(\/|$)/],
    },
  },
});
