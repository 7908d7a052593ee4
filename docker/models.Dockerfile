# syntax=docker/dockerfile:1.7
# Curator's ONNX export recipe: exports the models that have no published ONNX files
# (sentiment, genre, headline, image) with Hugging Face optimum at pinned versions, writes the
# MODELS_DIR layout in fp32 and fp16 plus checksums.json, and can push them to the S3 model bucket.
#
#   docker build -f docker/models.Dockerfile -t curator-model-export .
#   docker run --rm -v "$PWD/models:/out" -e HF_TOKEN curator-model-export --out /out [--only sentiment] [--push s3://bucket/prefix]
#
# Needs internet (the Hub, PyPI). The export runs on the CPU; the image needs ~16 GB of RAM for
# the Stable Diffusion UNet. See docs/models.md.
ARG PYTHON_IMAGE=python:3.11.10-slim-bookworm
FROM ${PYTHON_IMAGE}

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONUNBUFFERED=1 \
    HF_HOME=/cache/huggingface

WORKDIR /export
COPY docker/export/requirements.txt ./
RUN pip install -r requirements.txt
COPY docker/export/export.py ./

# Model downloads are cached in a volume when one is mounted at /cache.
VOLUME ["/out"]
ENTRYPOINT ["python", "/export/export.py"]
CMD ["--out", "/out"]
