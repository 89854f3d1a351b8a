import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

// `npm run dev`: Vite's dev server for web/, with the API proxied to a running exchange
// (BULWARK_URL, default http://localhost:8080). The production build goes to dist/web, which the
// gateway serves at `/` (src/gateway/http/web.ts).
const target = process.env.BULWARK_URL ?? "http://localhost:8080";
const api = { target, changeOrigin: true };

export default defineConfig({
  root: import.meta.dirname,
  plugins: [react()],
  build: { outDir: "../dist/web", emptyOutDir: true, chunkSizeWarningLimit: 400 },
  server: {
    port: 5173,
    // The Reserves page imports the CLI's verifier from the source tree (src/reserves/, src/units/).
    fs: { allow: [".."] },
    proxy: {
      "/v1.1": api,
      "/api": api,
      "/v1": { ...api, ws: true },
      "/status": api,
      "/metrics": api,
      "/operator": api,
    },
  },
});
