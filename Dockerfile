# One image for every role: `api` (default), `worker`, `migrate`, `start`, `smoke`.
#   docker build -t darkroom .
#   docker run --env-file .env darkroom worker

# --- dependencies, resolved from the lock only ---------------------------------------------
FROM denoland/deno:2.9.6 AS deps
WORKDIR /app
ENV DENO_DIR=/deno-dir RUST_BACKTRACE=0
COPY deno.json deno.lock ./
RUN deno install --frozen

# --- application: sources, type-checked and cached -------------------------------------------
FROM deps AS build
COPY . .
RUN deno install --frozen \
 && deno task build:ui \
 && deno check api/main.ts start.ts worker/main.ts shared/providers/local_render_worker.ts \
    tools/migrate.ts tools/smoke.ts tools/storage.ts \
 && rm -rf storage data .env test-output

# --- runtime -----------------------------------------------------------------------------------
FROM denoland/deno:2.9.6
WORKDIR /app
ENV DENO_DIR=/deno-dir RUST_BACKTRACE=0 HOST=0.0.0.0 PORT=8000 STORAGE_PATH=/data/storage \
    DATA_DIR=/data/embedded
COPY --from=build --chown=deno:deno /deno-dir /deno-dir
COPY --from=build --chown=deno:deno /app /app
RUN mkdir -p /data/storage /data/embedded && chown -R deno:deno /data
USER deno
VOLUME ["/data/storage"]
EXPOSE 8000
# The API answers on PORT; a worker with WORKER_PORT set answers /health there instead.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["deno", "eval", "const p = Deno.env.get('WORKER_PORT') || Deno.env.get('PORT') || '8000'; const path = Deno.env.get('WORKER_PORT') ? '/health' : '/api/v1/health'; const r = await fetch(`http://127.0.0.1:${p}${path}`); Deno.exit(r.ok ? 0 : 1)"]
ENTRYPOINT ["deno", "task", "--quiet"]
CMD ["api"]
