/** Database work for a request: bad values are the client's 400, anything else a 503 that changed nothing. */
import { AppError } from '../errors.ts';
import { InvalidPageRequestError, sqlState } from '../db/index.ts';

export async function fromDb<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (err instanceof AppError) throw err;
    if (err instanceof InvalidPageRequestError) throw new AppError('bad_request', err.message);
    // Class 22 is "data exception": a value from the request the database cannot take (e.g. NUL in text).
    if (sqlState(err)?.startsWith('22') === true) throw new AppError('bad_request', 'A value in the request is not valid text or number for the database.');
    throw new AppError('database_unavailable', undefined, undefined, { cause: err });
  }
}
