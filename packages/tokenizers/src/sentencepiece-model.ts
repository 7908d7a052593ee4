import protobuf from 'protobufjs';
import { CuratorError } from '@curator/contracts';

/*
 * SentencePiece's model file (`spiece.model`, `sentencepiece.bpe.model`): a protobuf
 * `ModelProto` (sentencepiece_model.proto, proto2). Only the fields a tokenizer needs are
 * declared; protobufjs skips the others (self-test data, the trainer's corpus settings).
 */

export type SentencePieceType = 'normal' | 'unknown' | 'control' | 'user_defined' | 'unused' | 'byte';
export type SentencePieceAlgorithm = 'unigram' | 'bpe' | 'word' | 'char';

export interface SentencePiece {
  piece: string;
  score: number;
  type: SentencePieceType;
}

export interface SentencePieceModel {
  pieces: SentencePiece[];
  trainerSpec: {
    modelType: SentencePieceAlgorithm;
    vocabSize: number;
    byteFallback: boolean;
    unkId: number;
    bosId: number;
    eosId: number;
    padId: number;
    unkPiece: string;
    bosPiece: string;
    eosPiece: string;
    padPiece: string;
  };
  normalizerSpec: {
    name: string;
    /** The normalization rules compiled into a double-array trie and a string pool (empty: none). */
    precompiledCharsmap: Uint8Array;
    addDummyPrefix: boolean;
    removeExtraWhitespaces: boolean;
    escapeWhitespaces: boolean;
  };
}

const PIECE_TYPES: Record<number, SentencePieceType> = { 1: 'normal', 2: 'unknown', 3: 'control', 4: 'user_defined', 5: 'unused', 6: 'byte' };
const ALGORITHMS: Record<number, SentencePieceAlgorithm> = { 1: 'unigram', 2: 'bpe', 3: 'word', 4: 'char' };
const codeOf = <T extends string>(table: Record<number, T>, name: T): number => Number(Object.entries(table).find(([, value]) => value === name)![0]);

// Field numbers and proto2 defaults as in sentencepiece_model.proto. protobufjs reads JSON
// descriptors as proto3 unless told otherwise, and proto3 would drop an explicit pad_id of 0.
const field = (type: string, id: number, defaultValue?: unknown) => ({ type, id, ...(defaultValue === undefined ? {} : { options: { default: defaultValue } }) });
const root = protobuf.Root.fromJSON({
  nested: {
    ModelProto: {
      edition: 'proto2',
      fields: {
        pieces: { rule: 'repeated', ...field('SentencePiece', 1) },
        trainerSpec: field('TrainerSpec', 2),
        normalizerSpec: field('NormalizerSpec', 3),
      },
    },
    SentencePiece: {
      edition: 'proto2',
      fields: { piece: field('string', 1), score: field('float', 2), type: field('int32', 3, 1) },
    },
    TrainerSpec: {
      edition: 'proto2',
      fields: {
        modelType: field('int32', 3, 1),
        vocabSize: field('int32', 4, 8000),
        byteFallback: field('bool', 35, false),
        unkId: field('int32', 40, 0),
        bosId: field('int32', 41, 1),
        eosId: field('int32', 42, 2),
        padId: field('int32', 43, -1),
        unkPiece: field('string', 45, '<unk>'),
        bosPiece: field('string', 46, '<s>'),
        eosPiece: field('string', 47, '</s>'),
        padPiece: field('string', 48, '<pad>'),
      },
    },
    NormalizerSpec: {
      edition: 'proto2',
      fields: {
        name: field('string', 1, ''),
        precompiledCharsmap: field('bytes', 2),
        addDummyPrefix: field('bool', 3, true),
        removeExtraWhitespaces: field('bool', 4, true),
        escapeWhitespaces: field('bool', 5, true),
      },
    },
  },
});
const ModelProto = root.lookupType('ModelProto');

type Decoded = Record<string, unknown>;
const sub = (message: Decoded, key: string): Decoded => (message[key] as Decoded | undefined) ?? {};

/** Reads a SentencePiece model file. */
export function readSentencePieceModel(bytes: Uint8Array, source = 'spiece.model'): SentencePieceModel {
  let message: Decoded;
  try {
    message = ModelProto.toObject(ModelProto.decode(bytes), { defaults: true }) as Decoded;
  } catch (error) {
    throw new CuratorError('model_load_failed', `${source} is not a SentencePiece model: ${(error as Error).message}`, { cause: error });
  }
  const trainer = sub(message, 'trainerSpec');
  const normalizer = sub(message, 'normalizerSpec');
  const pieces = ((message.pieces as Decoded[] | undefined) ?? []).map((piece, index) => {
    const type = PIECE_TYPES[piece.type as number];
    if (typeof piece.piece !== 'string' || type === undefined) {
      throw new CuratorError('model_load_failed', `${source}: piece ${index} has no text or an unknown type ${String(piece.type)}`);
    }
    return { piece: piece.piece, score: piece.score as number, type };
  });
  if (pieces.length === 0) throw new CuratorError('model_load_failed', `${source} holds no pieces`);
  const modelType = ALGORITHMS[trainer.modelType as number];
  if (modelType === undefined) throw new CuratorError('model_load_failed', `${source}: unknown model type ${String(trainer.modelType)}`);
  const charsmap = normalizer.precompiledCharsmap;
  return {
    pieces,
    trainerSpec: {
      modelType,
      vocabSize: trainer.vocabSize as number,
      byteFallback: trainer.byteFallback as boolean,
      unkId: trainer.unkId as number,
      bosId: trainer.bosId as number,
      eosId: trainer.eosId as number,
      padId: trainer.padId as number,
      unkPiece: trainer.unkPiece as string,
      bosPiece: trainer.bosPiece as string,
      eosPiece: trainer.eosPiece as string,
      padPiece: trainer.padPiece as string,
    },
    normalizerSpec: {
      name: normalizer.name as string,
      precompiledCharsmap: charsmap instanceof Uint8Array ? charsmap : new Uint8Array(),
      addDummyPrefix: normalizer.addDummyPrefix as boolean,
      removeExtraWhitespaces: normalizer.removeExtraWhitespaces as boolean,
      escapeWhitespaces: normalizer.escapeWhitespaces as boolean,
    },
  };
}

/** Writes a SentencePiece model file (what the trainer writes, less its training settings). */
export function writeSentencePieceModel(model: SentencePieceModel): Uint8Array {
  const message = ModelProto.fromObject({
    pieces: model.pieces.map((piece) => ({ piece: piece.piece, score: piece.score, type: codeOf(PIECE_TYPES, piece.type) })),
    trainerSpec: { ...model.trainerSpec, modelType: codeOf(ALGORITHMS, model.trainerSpec.modelType) },
    normalizerSpec: model.normalizerSpec,
  });
  return ModelProto.encode(message).finish();
}
