import type { NextRequest } from 'next/server';
import { requireUser } from '@/server/auth/request';
import { homeData } from '@/server/home';
import { json, route } from '@/server/http';

/** The signed-in user, their VMs and where they are connected now (the home page polls this). */
export const GET = route(async (req: NextRequest) => json(await homeData(await requireUser(req))));
