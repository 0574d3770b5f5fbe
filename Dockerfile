# Multi-stage build: Node builds the frontend, a Python stage builds the wheel that carries it
# (setup.py copies frontend/dist into blockprop/static), and a slim runtime installs that wheel
# as a user would (`pip install blockprop-*.whl`), with no checkout in the image.
# Not exercised by the tests (no Docker daemon where they run); kept correct by reading.
# tests/test_wheel.py does exercise the same wheel, installed in a fresh venv.

FROM node:20-bookworm-slim AS frontend
WORKDIR /src/frontend
COPY frontend/package.json frontend/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY frontend/ ./
RUN npm run build

FROM python:3.11-slim AS wheel
WORKDIR /src
COPY pyproject.toml setup.py README.md ./
COPY backend/ backend/
# Only the built frontend, no sources: setup.py packages it as it is (no npm here).
COPY --from=frontend /src/frontend/dist frontend/dist
RUN pip wheel --no-cache-dir --no-deps -w /wheels .

FROM python:3.11-slim AS runtime
# EXTRAS=scale adds psycopg, redis and ray (docker-compose.yml's `scale` profile builds it so):
# the API replicas, the Ray head and the Ray workers then run this one image, so their Ray and
# Python versions match, as Ray requires.
ARG EXTRAS=""
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    BLOCKPROP_DATABASE=/data/blockprop.sqlite
WORKDIR /app
COPY --from=wheel /wheels/ /wheels/
RUN wheel="$(ls /wheels/blockprop-*.whl)" \
    && pip install --no-cache-dir "${wheel}${EXTRAS:+[$EXTRAS]}" && rm -rf /wheels
RUN useradd --create-home blockprop && mkdir -p /data && chown blockprop /data
USER blockprop
VOLUME ["/data"]
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s --start-period=10s --retries=3 \
  CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/api/health', timeout=2).status != 200)"
# Listening beyond loopback inside the container needs an access token (BLOCKPROP_TOKEN).
CMD ["blockprop", "serve", "--host", "0.0.0.0", "--port", "8000"]
