# One image for every role: `api` (default), `worker`, `migrate`, `smoke`.
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
 && deno check api/main.ts worker/main.ts shared/cli/migrate.ts shared/cli/smoke.ts \
 && rm -rf storage data .env

# --- runtime -----------------------------------------------------------------------------------
FROM denoland/deno:2.9.6
WORKDIR /app
ENV DENO_DIR=/deno-dir RUST_BACKTRACE=0 HOST=0.0.0.0 PORT=8000 STORAGE_PATH=/data/storage
COPY --from=build --chown=deno:deno /deno-dir /deno-dir
COPY --from=build --chown=deno:deno /app /app
RUN mkdir -p /data/storage && chown -R deno:deno /data
USER deno
VOLUME ["/data/storage"]
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
  CMD ["deno", "eval", "const r = await fetch(`http://127.0.0.1:${Deno.env.get('PORT') ?? 8000}/api/v1/health`); Deno.exit(r.ok ? 0 : 1)"]
ENTRYPOINT ["deno", "task", "--quiet"]
CMD ["api"]
