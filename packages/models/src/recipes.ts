// How each kind of checkpoint becomes ONNX: which files a builder reads (by manifest key) and
// which files it writes, named where an optimum export puts them (docs/models.md, "Converted
// folder layout"). The manifest's output lists are made from here, so the two cannot differ.
import { z } from 'zod';

export const converterBuilders = ['t5', 'encoder-classifier', 'stable-diffusion'] as const;
export const converterBuilderSchema = z.enum(converterBuilders);
export type ConverterBuilder = z.infer<typeof converterBuilderSchema>;

/** Precisions Curator's builders write (int8 is not one: quantized files come from elsewhere). */
export const convertiblePrecisions = ['fp32', 'fp16'] as const;
export type ConvertiblePrecision = (typeof convertiblePrecisions)[number];

export interface RecipeFile {
  path: string;
  key: string;
}

const suffix = (precision: ConvertiblePrecision) => (precision === 'fp16' ? '_fp16' : '');

/** The files a builder writes for a precision, as paths inside the model folder with their keys. */
export function conversionOutputs(builder: ConverterBuilder, precision: ConvertiblePrecision): RecipeFile[] {
  const s = suffix(precision);
  switch (builder) {
    case 't5':
      return [
        { path: `encoder_model${s}.onnx`, key: 'encoder' },
        { path: `decoder_model_merged${s}.onnx`, key: 'decoder' },
      ];
    case 'encoder-classifier':
      return [{ path: `model${s}.onnx`, key: 'model' }];
    case 'stable-diffusion':
      return [
        { path: `text_encoder/model${s}.onnx`, key: 'text_encoder' },
        { path: `unet/model${s}.onnx`, key: 'unet' },
        // The fp32 UNet of Stable Diffusion is over protobuf's 2 GB limit: its weights always go
        // beside it (also for small UNets, so the file list does not depend on the model's size).
        ...(precision === 'fp32' ? [{ path: 'unet/model.onnx_data', key: 'unet_data' }] : []),
        { path: `vae_decoder/model${s}.onnx`, key: 'vae_decoder' },
      ];
  }
}

/** The manifest keys of the checkpoint files a builder reads (configs and weights). */
export const conversionInputKeys: Record<ConverterBuilder, readonly string[]> = {
  t5: ['config', 'weights'],
  'encoder-classifier': ['config', 'weights'],
  'stable-diffusion': ['text_encoder_config', 'text_encoder_weights', 'unet_config', 'unet_weights', 'vae_config', 'vae_weights'],
};

/**
 * Checkpoint tensors a builder leaves out on purpose. Anything else left unread fails the
 * conversion (see `unusedTensors`).
 */
export const ignoredTensors: Record<string, readonly RegExp[]> = {
  // Tied aliases a pytorch_model.bin keeps under every name (safetensors keep shared.weight only),
  // and the decoder's unused cross-attention bias (transformers ignores it too).
  t5: [/^(encoder|decoder)\.embed_tokens\.weight$/, /^lm_head\.weight$/, /^decoder\.block\.0\.layer\.1\.EncDecAttention\.relative_attention_bias\.weight$/],
  // Buffers older transformers saved with the weights.
  'encoder-classifier': [/(^|\.)position_ids$/],
  text_encoder: [/(^|\.)position_ids$/],
  unet: [],
  // The VAE's encoder half: Curator only decodes latents.
  vae: [/^encoder\./, /^quant_conv\./],
};
