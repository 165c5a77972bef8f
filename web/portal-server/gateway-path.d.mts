export declare const GATEWAY_SOCKET_PATH: '/gateway/socket.io';
