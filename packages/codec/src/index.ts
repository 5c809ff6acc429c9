export type { Codec, CodecSchema } from './codec.js';
