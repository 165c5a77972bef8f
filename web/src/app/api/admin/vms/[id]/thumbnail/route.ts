import type { NextRequest } from 'next/server';
import { idSchema } from '@/lib/validation';
import { requireAdmin } from '@/server/auth/request';
import { db } from '@/server/db';
import { gatewayThumbnail } from '@/server/gateway';
import { json, notFound, route } from '@/server/http';
import { hypervisor } from '@/server/hypervisor';

/** A small PNG of the VM's screen: from the gateway, or straight from the hypervisor. */
export const GET = route(async (req: NextRequest, ctx: { params: Promise<{ id: string }> }) => {
  await requireAdmin(req);
  const { id } = await ctx.params;
  if (!idSchema.safeParse(id).success) throw notFound('No such VM.');
  const vm = await db().vm.findFirst({ where: { id, state: { not: 'destroyed' } } });
  if (!vm?.domainId) throw notFound('No such VM.');
  let png: Uint8Array | null = null;
  try {
    png = await gatewayThumbnail(vm.domainId);
  } catch {
    png = null;
  }
  if (!png) {
    try {
      png = await (await hypervisor(1_500)).thumbnail(vm.domainId, 320);
    } catch {
      return json(
        { error: 'no_thumbnail', message: 'No picture of this screen is available right now.' },
        { status: 503 },
      );
    }
  }
  return new Response(Buffer.from(png), {
    headers: { 'content-type': 'image/png', 'cache-control': 'no-store' },
  });
});
