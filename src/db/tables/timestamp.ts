import type { ColumnType } from 'kysely';

/** A nullable-or-settable timestamptz column: read as Date, written as Date or ISO string. */
export type Timestamp = ColumnType<Date, Date | string | undefined, Date | string>;
