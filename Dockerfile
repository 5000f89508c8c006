# One image for every chuishao process of docker-compose.yml: the API (`chuishao serve`), the scheduler
# (`chuishao worker`), the one-off `chuishao init`, and the Prefect server (`prefect server start`: the same
# Prefect version as the worker's client, which the server requires).
FROM python:3.11-slim
# the CJK font every bulletin format embeds (flows/reports/fonts.py)
RUN apt-get update && apt-get install -y --no-install-recommends fonts-wqy-microhei && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY . .
RUN pip install --no-cache-dir . && python -m compileall -q /usr/local/lib/python3.11/site-packages
# Not root. /data exists and belongs to this user before a volume is mounted there, so that a new named
# volume starts with that owner (attachments, bulletins and checkpoints are written into it).
RUN useradd --create-home --uid 10001 chuishao && mkdir -p /data && chown chuishao:chuishao /data
USER chuishao
ENV PYTHONUNBUFFERED=1 CHUISHAO_DATA_DIR=/data
EXPOSE 8000
CMD ["chuishao", "serve", "--host", "0.0.0.0"]
