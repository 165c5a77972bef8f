export declare function readTlsFiles(
  env: Record<string, string | undefined>,
): { cert: Buffer; key: Buffer; certFile: string; keyFile: string } | null;
