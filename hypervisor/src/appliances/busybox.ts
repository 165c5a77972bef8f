// The applet names compiled into a busybox binary, read from its applet name table (a run of
// NUL-terminated names starting "[", "[[", sorted, ending with an empty string). Reading them
// from the file lets the build create the applet links without executing an i386 binary on
// the build host (which may not run 32-bit code at all).
export function busyboxApplets(binary: Buffer): string[] {
  const start = binary.indexOf(Buffer.from('\0[\0[[\0', 'latin1'));
  if (start < 0) throw new Error('busybox applet table not found');
  const names: string[] = [];
  let i = start + 1;
  for (;;) {
    const end = binary.indexOf(0, i);
    if (end < 0 || end === i) break;
    const name = binary.toString('latin1', i, end);
    if (!/^[\x21-\x7e]+$/.test(name)) break;
    names.push(name);
    i = end + 1;
  }
  if (!names.includes('sh')) throw new Error('busybox applet table has no "sh"');
  return names;
}
