# QFlow for Slack as a container: the same start command as the Procfile's web process.
# Build: docker build -t qflow-slack .   Run: docker run --env-file .env -p 3000:3000 qflow-slack
# Secrets come from the environment at run time; none is baked into the image.
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PORT=3000
WORKDIR /app
COPY pyproject.toml requirements.txt README.md ./
COPY bot ./bot
RUN pip install -r requirements.txt \
    && useradd --system --uid 10001 --home-dir /app qflow \
    && mkdir -p /data && chown qflow /data
USER qflow
EXPOSE 3000
HEALTHCHECK --interval=30s --timeout=3s --start-period=20s \
    CMD python -c "import os, urllib.request; urllib.request.urlopen(f'http://127.0.0.1:{os.environ.get(\"PORT\", \"3000\")}/healthz', timeout=2)"
CMD ["python", "-m", "bot", "http"]
