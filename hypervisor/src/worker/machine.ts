// The PC a domain's guest runs on: which of v86's interrupt and timer hardware is present.
//
// - 'pic': v86's default, an 8259 PIC and an 8254 PIT. Linux's PIT driver programs a one-shot of
//   at most 0x7fff ticks (27.5 ms), so a tickless guest with nothing to do still wakes 36 times
//   a second, and each wake-up is a slice of the worker.
// - 'apic': v86's ACPI machine, with a local APIC and an I/O APIC (from its MP table; our kernel
//   has no ACPI). Linux then uses the local APIC timer, whose one-shot reaches seconds, and an
//   idle guest sleeps until a timer it asked for.
//
// The hardware is part of every saved state (v86 restores the ACPI device's registers only on a
// machine that has one), so states record theirs and restore only onto the same one.
import type { Machine } from '../api/protocol.ts';

/** The machine this hypervisor starts, restores and receives domains on. */
export const HOST_MACHINE: Machine = 'apic';

/** v86's constructor options for `machine`. */
export function v86MachineOptions(machine: Machine): { acpi: boolean } {
  return { acpi: machine === 'apic' };
}
