export { Policy, OPERATIONS, type Operation, type Decision, type Target, type ReadGrant, type Rule } from './policy.js';
export {
  validatePolicySpec,
  loadPolicyFile,
  policyFromSpec,
  parseSize,
  PolicySpecError,
  type PolicySpec,
  type ReadSpec,
  type RuleSpec,
} from './spec.js';
