import react from "@vitejs/plugin-react";
import { defineConfig } from "vitest/config";

// The API server (uvicorn) runs on :8000 during `make dev`; the Vite dev server proxies to it,
// WebSockets included, so the browser sees one origin as it does in production.
const api = process.env.BLOCKPROP_API ?? "http://127.0.0.1:8000";

export default defineConfig({
  // Absolute asset URLs: FastAPI serves index.html for every SPA route (e.g. /g/abc).
  base: "/",
  plugins: [react()],
  server: {
    proxy: {
      "/api": {
        target: api,
        changeOrigin: true,
        ws: true,
        // The API refuses state changes from foreign origins (CSRF guard); through this local
        // proxy the page is, in effect, served by the API, so present the API's own origin.
        headers: { origin: api },
      },
    },
  },
  build: {
    outDir: "dist",
    emptyOutDir: true,
    chunkSizeWarningLimit: 2000,
  },
  test: {
    environment: "jsdom",
    include: ["src/**/*.test.{ts,tsx}"],
    setupFiles: ["src/test/setup.ts"],
  },
});
