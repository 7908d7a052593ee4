# syntax=docker/dockerfile:1.7
# The independent Python route to Curator's ONNX files (Curator converts the checkpoints itself, no
# Python needed): exports the five pinned checkpoints with Hugging Face optimum at pinned versions
# into <out>/optimum/<model-id>/, in the layout of Curator's conversion, fp32 and fp16, plus
# checksums.json: the reference for `curator models parity`, and files for a CURATOR_MODELS_EXPORTS bucket.
#
#   docker build -f docker/models.Dockerfile -t curator-model-export .
#   docker run --rm -v "$PWD/models:/out" -e HF_TOKEN curator-model-export --out /out [--only sentiment] [--push s3://bucket/prefix]
#   npm run curator -- models parity sentiment --reference models/optimum/finiteautomata/bertweet-base-sentiment-analysis
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
