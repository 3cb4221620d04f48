export {
  TraceWriter,
  readTrace,
  type CallRecord,
  type TraceEntry,
  type TraceHeader,
  type TraceFooter,
} from './trace.js';
export { formatCall, formatTrace } from './format.js';
