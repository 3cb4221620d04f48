export { Session } from './session.js';
export { SessionFiles, SessionFileError, type SessionFileEntry } from './files.js';
export type { GuestInfo } from './answers.js';
export {
  SessionClosedError,
  type CallResult,
  type RunOptions,
  type SessionEnd,
  type SessionOptions,
  type SnippetError,
  type SnippetResult,
  type BackgroundOutput,
} from './types.js';
