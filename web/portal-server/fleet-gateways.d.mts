export declare function createGatewayResolver(options: {
  portalUrl: string;
  secret: string;
  fetchImpl?: typeof fetch;
}): (gatewayId: string) => Promise<string | null>;
