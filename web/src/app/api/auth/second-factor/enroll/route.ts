import type { NextRequest } from 'next/server';
import { enrolAtSignInSchema } from '@/lib/validation';
import { enrolAtSignIn } from '@/server/auth/login';
import { lockoutSettings, sessionSettings } from '@/server/auth/request';
import { db } from '@/server/db';
import { HttpError, json, parseBody, route } from '@/server/http';

/** A new authenticator secret for a sign-in whose groups require one the user does not have. */
export const POST = route(async (req: NextRequest) => {
  const { challenge } = await parseBody(req, enrolAtSignInSchema);
  const enrolment = await enrolAtSignIn(
    db(),
    { session: sessionSettings(), lockout: lockoutSettings() },
    challenge,
  );
  if (!enrolment) {
    throw new HttpError(
      401,
      'challenge_expired',
      'The sign-in took too long. Please enter your email and password again.',
    );
  }
  return json(enrolment);
});
