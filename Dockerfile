# The webhook image: gunicorn serving the Flask app, OPA's Go evaluator in-process unless
# ECS_ADMISSION_OPA_URL points at an OPA sidecar. Python 3.14, where the engine's binding installs as
# an ordinary dependency (Debian 13 base: glibc 2.41, above the wheels' 2.34); its wheel is
# checked against the hashes in engine-requirements.txt.
FROM python:3.14-slim AS build
WORKDIR /src
COPY pyproject.toml README.md engine-requirements.txt ./
COPY service ./service
COPY rego ./rego
COPY examples ./examples
RUN pip download --no-cache-dir --require-hashes --no-deps --dest /wheels -r engine-requirements.txt \
    && pip wheel --no-cache-dir --wheel-dir /wheels --find-links /wheels .

FROM python:3.14-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    ECS_ADMISSION_HOST=0.0.0.0 \
    ECS_ADMISSION_PORT=8080 \
    ECS_ADMISSION_PLAYGROUND=false
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir --no-index --find-links=/wheels ecs-admission \
    && rm -rf /wheels \
    && useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin app
USER 10001
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s \
  CMD ["python", "-c", "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8080/readyz', timeout=2).status == 200 else 1)"]
ENTRYPOINT ["gunicorn", "--config", "python:ecs_admission.gunicorn_conf"]
