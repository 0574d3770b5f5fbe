# Multi-stage build: Node builds the frontend, a slim Python image runs the server.
# Not exercised by the tests (no Docker daemon where they run); kept correct by reading.

FROM node:20-bookworm-slim AS frontend
WORKDIR /src/frontend
COPY frontend/package.json frontend/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY frontend/ ./
RUN npm run build

FROM python:3.11-slim AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    BLOCKPROP_DATABASE=/data/blockprop.sqlite \
    BLOCKPROP_STATIC_DIR=/app/frontend/dist
WORKDIR /app
COPY pyproject.toml README.md ./
COPY backend/ backend/
RUN pip install --no-cache-dir .
COPY --from=frontend /src/frontend/dist /app/frontend/dist
RUN useradd --create-home blockprop && mkdir -p /data && chown blockprop /data
USER blockprop
VOLUME ["/data"]
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s --start-period=10s --retries=3 \
  CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/api/health', timeout=2).status != 200)"
# Listening beyond loopback inside the container needs an access token (BLOCKPROP_TOKEN).
CMD ["blockprop", "serve", "--host", "0.0.0.0", "--port", "8000"]
