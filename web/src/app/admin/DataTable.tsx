// The admin console's table: column headings, the rows the caller renders, and the message
// shown instead when there is nothing to list.
import type { ReactNode } from 'react';

export interface DataTableProps {
  /** Headings; a trailing `>` right-aligns the column (e.g. "Actions>"). */
  columns: string[];
  /** Shown instead of the table when set: a bold title and an explanation. */
  empty?: { title: string; text: ReactNode } | null;
  children: ReactNode;
}

export function DataTable({ columns, empty, children }: DataTableProps) {
  if (empty) {
    return (
      <div className="empty">
        <strong>{empty.title}</strong>
        {empty.text}
      </div>
    );
  }
  return (
    <div className="table-wrap">
      <table className="data">
        <thead>
          <tr>
            {columns.map((column) =>
              column.endsWith('>') ? (
                <th key={column} style={{ textAlign: 'right' }}>
                  {column.slice(0, -1)}
                </th>
              ) : (
                <th key={column}>{column}</th>
              ),
            )}
          </tr>
        </thead>
        <tbody>{children}</tbody>
      </table>
    </div>
  );
}
