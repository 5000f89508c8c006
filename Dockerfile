FROM python:3.11-slim
RUN apt-get update && apt-get install -y --no-install-recommends fonts-wqy-microhei && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY . .
RUN pip install --no-cache-dir . && python -m compileall -q /usr/local/lib/python3.11/site-packages
EXPOSE 8000
CMD ["chuishao", "serve", "--host", "0.0.0.0"]
