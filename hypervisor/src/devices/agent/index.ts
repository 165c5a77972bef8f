export {
  GuestAgentClient,
  AgentError,
  parseInfo,
  type AgentEvent,
  type AgentInfo,
  type GuestAgentClientOptions,
} from './guest-agent-client.ts';
