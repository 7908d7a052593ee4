// The test set's config files: the keys each real repo's config has (where its content is known:
// t5-small, the BERTweet sentiment model; otherwise the keys the transformers/diffusers version of
// the repo's date writes), with tiny sizes so every test builds and runs the models in moments.
import { clipMaxLength } from './clip-tokenizer.ts';

export { clipMaxLength };

export const sentimentLabels = { 0: 'NEG', 1: 'NEU', 2: 'POS' } as const;
export const genreLabels = { 0: 'business', 1: 'entertainment', 2: 'politics', 3: 'sport', 4: 'tech' } as const;

function labelMaps(labels: Record<number, string>) {
  return {
    id2label: Object.fromEntries(Object.entries(labels).map(([id, label]) => [String(id), label])),
    label2id: Object.fromEntries(Object.entries(labels).map(([id, label]) => [label, Number(id)])),
  };
}

/** finiteautomata/bertweet-base-sentiment-analysis's config.json keys (exact), tiny. */
export function sentimentConfig(vocabSize: number): Record<string, unknown> {
  return {
    _name_or_path: 'vinai/bertweet-base',
    architectures: ['RobertaForSequenceClassification'],
    attention_probs_dropout_prob: 0.1,
    bos_token_id: 0,
    classifier_dropout: null,
    eos_token_id: 2,
    gradient_checkpointing: false,
    hidden_act: 'gelu',
    hidden_dropout_prob: 0.1,
    hidden_size: 32,
    ...labelMaps(sentimentLabels),
    initializer_range: 0.02,
    intermediate_size: 64,
    layer_norm_eps: 1e-5,
    // RoBERTa positions start after padding_idx, so 128 tokens need 130 rows (as the real model).
    max_position_embeddings: 130,
    model_type: 'roberta',
    num_attention_heads: 2,
    num_hidden_layers: 2,
    pad_token_id: 1,
    position_embedding_type: 'absolute',
    problem_type: 'single_label_classification',
    tokenizer_class: 'BertweetTokenizer',
    torch_dtype: 'float32',
    transformers_version: '4.26.0',
    type_vocab_size: 1,
    use_cache: true,
    vocab_size: vocabSize,
  };
}

/** An AutoNLP (2021) BERT classifier's config.json keys, tiny; the real file's content is not public offline. */
export function genreConfig(vocabSize: number): Record<string, unknown> {
  return {
    _name_or_path: 'AutoNLP',
    _num_labels: 5,
    architectures: ['BertForSequenceClassification'],
    attention_probs_dropout_prob: 0.1,
    gradient_checkpointing: false,
    hidden_act: 'gelu',
    hidden_dropout_prob: 0.1,
    hidden_size: 32,
    ...labelMaps(genreLabels),
    initializer_range: 0.02,
    intermediate_size: 64,
    layer_norm_eps: 1e-12,
    max_length: 512,
    max_position_embeddings: 128,
    model_type: 'bert',
    num_attention_heads: 2,
    num_hidden_layers: 2,
    pad_token_id: 0,
    padding: 'max_length',
    position_embedding_type: 'absolute',
    problem_type: 'single_label_classification',
    transformers_version: '4.8.0',
    type_vocab_size: 2,
    use_cache: true,
    vocab_size: vocabSize,
  };
}

/** The T5 shape of the test set: fast to build and to run. */
export const tinyT5 = { d_ff: 64, d_kv: 8, d_model: 32, num_heads: 4, num_layers: 2, vocab_size: 300 } as const;

const t5TaskParams = {
  summarization: { early_stopping: true, length_penalty: 2.0, max_length: 200, min_length: 30, no_repeat_ngram_size: 3, num_beams: 4, prefix: 'summarize: ' },
  translation_en_to_de: { early_stopping: true, max_length: 300, num_beams: 4, prefix: 'translate English to German: ' },
  translation_en_to_fr: { early_stopping: true, max_length: 300, num_beams: 4, prefix: 'translate English to French: ' },
  translation_en_to_ro: { early_stopping: true, max_length: 300, num_beams: 4, prefix: 'translate English to Romanian: ' },
};

/** google-t5/t5-small's config.json keys (exact: no feed_forward_proj, tie_word_embeddings or num_decoder_layers), tiny. */
export function summarizerConfig(): Record<string, unknown> {
  return {
    architectures: ['T5ForConditionalGeneration'],
    d_ff: tinyT5.d_ff,
    d_kv: tinyT5.d_kv,
    d_model: tinyT5.d_model,
    decoder_start_token_id: 0,
    dropout_rate: 0.1,
    eos_token_id: 1,
    initializer_factor: 1.0,
    is_encoder_decoder: true,
    layer_norm_epsilon: 1e-6,
    model_type: 't5',
    n_positions: 512,
    num_heads: tinyT5.num_heads,
    num_layers: tinyT5.num_layers,
    output_past: true,
    pad_token_id: 0,
    relative_attention_num_buckets: 32,
    task_specific_params: t5TaskParams,
    vocab_size: tinyT5.vocab_size,
  };
}

/** t5-small's generation_config.json (exact). */
export function summarizerGenerationConfig(): Record<string, unknown> {
  return { _from_model_config: true, decoder_start_token_id: 0, eos_token_id: 1, pad_token_id: 0, transformers_version: '4.27.0.dev0' };
}

/** A t5-small fine-tune saved by transformers 4.20 (2022): the keys that version writes, tiny. */
export function headlineConfig(): Record<string, unknown> {
  return {
    _name_or_path: 't5-small',
    architectures: ['T5ForConditionalGeneration'],
    d_ff: tinyT5.d_ff,
    d_kv: tinyT5.d_kv,
    d_model: tinyT5.d_model,
    decoder_start_token_id: 0,
    dropout_rate: 0.1,
    eos_token_id: 1,
    feed_forward_proj: 'relu',
    initializer_factor: 1.0,
    is_encoder_decoder: true,
    layer_norm_epsilon: 1e-6,
    model_type: 't5',
    n_positions: 512,
    num_decoder_layers: tinyT5.num_layers,
    num_heads: tinyT5.num_heads,
    num_layers: tinyT5.num_layers,
    output_past: true,
    pad_token_id: 0,
    relative_attention_max_distance: 128,
    relative_attention_num_buckets: 32,
    task_specific_params: t5TaskParams,
    torch_dtype: 'float32',
    transformers_version: '4.20.1',
    use_cache: true,
    vocab_size: tinyT5.vocab_size,
  };
}

const textHidden = 32;

/** Stable Diffusion v1's text_encoder/config.json keys (CLIPTextModel, transformers 4.2x), tiny. */
export function textEncoderConfig(vocabSize: number, startId: number): Record<string, unknown> {
  return {
    _name_or_path: 'openai/clip-vit-large-patch14',
    architectures: ['CLIPTextModel'],
    attention_dropout: 0.0,
    bos_token_id: startId,
    dropout: 0.0,
    // 2, as SD v1's config says: transformers' legacy pooling (the position of the largest id).
    eos_token_id: 2,
    hidden_act: 'quick_gelu',
    hidden_size: textHidden,
    initializer_factor: 1.0,
    initializer_range: 0.02,
    intermediate_size: textHidden * 4,
    layer_norm_eps: 1e-5,
    max_position_embeddings: clipMaxLength,
    model_type: 'clip_text_model',
    num_attention_heads: 2,
    num_hidden_layers: 2,
    pad_token_id: 1,
    projection_dim: textHidden,
    torch_dtype: 'float32',
    transformers_version: '4.25.1',
    vocab_size: vocabSize,
  };
}

/** small-stable-diffusion-v0's UNet config keys (SD 1.x block types, one layer per block), small widths. */
export const unetConfig = {
  _class_name: 'UNet2DConditionModel',
  _diffusers_version: '0.8.0.dev0',
  act_fn: 'silu',
  attention_head_dim: 8,
  block_out_channels: [32, 32, 64, 64],
  center_input_sample: false,
  cross_attention_dim: textHidden,
  down_block_types: ['CrossAttnDownBlock2D', 'CrossAttnDownBlock2D', 'CrossAttnDownBlock2D', 'DownBlock2D'],
  downsample_padding: 1,
  flip_sin_to_cos: true,
  freq_shift: 0,
  in_channels: 4,
  layers_per_block: 1,
  mid_block_scale_factor: 1,
  norm_eps: 1e-5,
  norm_num_groups: 8,
  out_channels: 4,
  sample_size: 8,
  up_block_types: ['UpBlock2D', 'CrossAttnUpBlock2D', 'CrossAttnUpBlock2D', 'CrossAttnUpBlock2D'],
} as const;

/** small-stable-diffusion-v0's VAE config keys (four levels: latents are 1/8 of the image), small widths. */
export function vaeConfig(scalingFactor = 0.18215): Record<string, unknown> {
  return {
    _class_name: 'AutoencoderKL',
    _diffusers_version: '0.8.0.dev0',
    act_fn: 'silu',
    block_out_channels: [16, 16, 32, 32],
    down_block_types: ['DownEncoderBlock2D', 'DownEncoderBlock2D', 'DownEncoderBlock2D', 'DownEncoderBlock2D'],
    in_channels: 3,
    latent_channels: 4,
    layers_per_block: 1,
    norm_num_groups: 8,
    out_channels: 3,
    sample_size: 64,
    scaling_factor: scalingFactor,
    up_block_types: ['UpDecoderBlock2D', 'UpDecoderBlock2D', 'UpDecoderBlock2D', 'UpDecoderBlock2D'],
  };
}

/** Stable Diffusion v1's PNDM scheduler, as the repo's scheduler/scheduler_config.json. */
export const schedulerConfig = {
  _class_name: 'PNDMScheduler',
  _diffusers_version: '0.8.0.dev0',
  beta_end: 0.012,
  beta_schedule: 'scaled_linear',
  beta_start: 0.00085,
  clip_sample: false,
  num_train_timesteps: 1000,
  set_alpha_to_one: false,
  skip_prk_steps: true,
  steps_offset: 1,
  trained_betas: null,
};

/** A diffusers StableDiffusionPipeline's model_index.json (the real one names its safety checker too, which Curator does not run). */
export const modelIndex = {
  _class_name: 'StableDiffusionPipeline',
  _diffusers_version: '0.8.0.dev0',
  feature_extractor: ['transformers', 'CLIPFeatureExtractor'],
  safety_checker: ['stable_diffusion', 'StableDiffusionSafetyChecker'],
  scheduler: ['diffusers', 'PNDMScheduler'],
  text_encoder: ['transformers', 'CLIPTextModel'],
  tokenizer: ['transformers', 'CLIPTokenizer'],
  unet: ['diffusers', 'UNet2DConditionModel'],
  vae: ['diffusers', 'AutoencoderKL'],
};
