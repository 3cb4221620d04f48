export { ProtocolError, hexPreview } from './errors.js';
export {
  parseSignature,
  SignatureCache,
  MAX_ARGS,
  type Signature,
  type ArgKind,
  type ResultKind,
} from './signature.js';
export { CallDecoder, type DecodedCall, type ArgValue } from './decoder.js';
export { AnswerEncoder, Cmd } from './encoder.js';
export { readInt, readPtr, writeInt, writePtr, type Int, type Ptr } from './int64.js';
export { GuestChannel } from './channel.js';
