export { readTrace, type CallRecord, type TraceEntry } from './trace.js';
export { formatCall, formatTrace } from './format.js';
