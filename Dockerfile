# Image for deploy/ (compose and Kubernetes): one image, the command picks the component.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY postwarden postwarden
COPY ingress ingress
COPY agents agents
COPY egress egress
COPY schemas schemas
RUN pip install --no-cache-dir -e .
USER nobody
ENTRYPOINT []
