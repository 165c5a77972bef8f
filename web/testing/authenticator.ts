// What an authenticator app shows for a secret at a moment: for tests that sign in with TOTP.
import { generate } from 'otplib';

export function authenticatorCode(secret: string, at = new Date()): Promise<string> {
  return generate({ secret, epoch: Math.floor(at.getTime() / 1000) });
}
