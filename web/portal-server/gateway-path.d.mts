export declare const GATEWAY_SOCKET_PATH: '/gateway/socket.io';
export declare const GATEWAY_ID_PATTERN: RegExp;
export declare function fleetGatewaySocketPath(gatewayId: string): string;
