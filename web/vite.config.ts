import { resolve } from "node:path";

import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

// Two pages, one build: the booking page (index.html, also every /book and /bookings route)
// and the provider dashboard (dashboard/index.html, every /dashboard route). The API serves
// dist/ from its own origin, so `vite dev` proxies the API's paths to it.
const API = process.env.BOOKING_API ?? "http://127.0.0.1:8000";
const API_PATHS = [
  "/auth",
  "/providers",
  "/appointments",
  "/users",
  "/sandbox",
  "/payments",
  "/calendar",
  "/notifications",
  "/health",
  "/ready",
];

export default defineConfig({
  plugins: [react()],
  build: {
    outDir: "dist",
    emptyOutDir: true,
    sourcemap: false,
    rollupOptions: {
      input: {
        booking: resolve(import.meta.dirname, "index.html"),
        dashboard: resolve(import.meta.dirname, "dashboard/index.html"),
      },
    },
  },
  server: {
    proxy: Object.fromEntries(API_PATHS.map((path) => [path, { target: API }])),
  },
});
