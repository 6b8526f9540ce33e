# One image for every process of the Procfile (docker-compose.yml starts them).
FROM python:3.11-slim
WORKDIR /app
COPY . .
# Editable: the templates and migrations are read from the source tree.
RUN pip install --no-cache-dir -e .
ENV PYTHONUNBUFFERED=1
