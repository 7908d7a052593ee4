import { fileURLToPath } from 'node:url';

/** Folder of this package: fixtures live in its subfolders (see README.md). */
export const referenceRoot = fileURLToPath(new URL('..', import.meta.url));

/** diffusers' own UNet and VAE outputs for given weights and inputs (see diffusers/README.md). */
export const diffusersReferenceDir = fileURLToPath(new URL('../diffusers', import.meta.url));

/** Checkpoints written by PyTorch/safetensors themselves, hostile files, expected values (see checkpoints/make_fixtures.py). */
export const checkpointsReferenceDir = fileURLToPath(new URL('../checkpoints', import.meta.url));

/** diffusers' own scheduler timesteps, sigmas and step outputs (see schedulers/make_fixtures.py). */
export const schedulersReferenceDir = fileURLToPath(new URL('../schedulers', import.meta.url));

/** transformers' own tiny T5 / RoBERTa / BERT / CLIP text models and their outputs (see models/README.md). */
export const modelsReferenceDir = fileURLToPath(new URL('../models', import.meta.url));

/** Token ids of transformers' own tokenizer classes on small real-format vocabularies (see tokenizers/make_fixtures.py). */
export const tokenizersReferenceDir = fileURLToPath(new URL('../tokenizers', import.meta.url));

/** transformers' own generate() length rules and beam-search outputs for textgen (see generation/README.md). */
export const generationReferenceDir = fileURLToPath(new URL('../generation', import.meta.url));

/** Tiny Hub repositories laid out like the real ones Curator pins, with transformers' answers (see hub/README.md). */
export const hubReferenceDir = fileURLToPath(new URL('../hub', import.meta.url));
