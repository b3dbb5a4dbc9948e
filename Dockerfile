# The booking page and dashboard, built from the committed lock; the image ships only dist/.
FROM node:20-bookworm-slim AS web
WORKDIR /web
COPY web/package.json web/package-lock.json web/.npmrc ./
RUN npm ci --no-audit --no-fund
COPY web/ ./
RUN npm run build

# The API, the worker and the migration step share this image; compose picks the command.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app

COPY pyproject.toml constraints.txt README.md ./
COPY . .
COPY --from=web /web/dist web/dist
RUN pip install --no-cache-dir -c constraints.txt . \
    && useradd --system --uid 10001 booking
USER booking

EXPOSE 8000
CMD ["uvicorn", "--factory", "api.main:create_app", "--host", "0.0.0.0", "--port", "8000"]
